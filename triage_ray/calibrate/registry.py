"""The calibrator registry: one decorator fills `CALIBRATORS`, CLI choices and tests read from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CALIBRATORS: dict[str, type] = {}


def register_calibrator(name: str) -> Callable[[type], type]:
    """Class decorator: register a calibrator (fit(logits, y) -> self, predict_proba(logits))."""

    def deco(cls: type) -> type:
        if name in CALIBRATORS:
            raise ValueError(f"calibrator {name!r} is already registered ({CALIBRATORS[name]})")
        CALIBRATORS[name] = cls
        return cls

    return deco


def make_calibrator(name: str, **kwargs: Any) -> Any:
    """Build a registered calibrator by name; `None` keyword values fall back to the defaults."""
    try:
        cls = CALIBRATORS[name]
    except KeyError:
        raise ValueError(f"unknown calibrator {name!r}; choose from {sorted(CALIBRATORS)}") from None
    return cls(**{k: v for k, v in kwargs.items() if v is not None})
