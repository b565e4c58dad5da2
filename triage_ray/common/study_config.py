"""The contract every study configuration shares: defaults in one dataclass, unknown keys and
wrong value types raise at construction, the resolved values saved beside each run."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self


class StudyConfig:
    """Mixin for a `@dataclass` config; subclasses implement `validate`."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys: {unknown}; known keys: {sorted(known)}")
        hints = typing.get_type_hints(cls)
        for name, value in values.items():
            check_type(f"{cls.__name__}.{name}", value, hints[name])
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))


def check_type(name: str, value: Any, hint: Any) -> None:
    """Raise TypeError unless `value` (as parsed from JSON or a CLI `--set`) fits `hint`.

    Why here and not in a Tune trial: a `--set epochs="3"` typo should fail before any data is
    generated, naming the field and the type it wants. Ints are accepted where floats are wanted
    (JSON writes 1.0 as 1); bools are never accepted as numbers.
    """
    if not _fits(value, hint):
        raise TypeError(f"{name} must be {_describe(hint)}, got {value!r} ({type(value).__name__})")


def _fits(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (list, tuple):
        item = args[0] if args else Any
        return isinstance(value, list | tuple) and all(_fits(v, item) for v in value)
    if origin is dict:
        k, v = args or (Any, Any)
        return isinstance(value, dict) and all(_fits(a, k) and _fits(b, v) for a, b in value.items())
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _describe(hint: Any) -> str:
    names = getattr(hint, "__name__", None)
    return names if names and not typing.get_args(hint) else str(hint).replace("typing.", "")


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> None:
    """Raise ValueError naming the allowed values (a registry's keys) unless `value` is one."""
    choices = sorted(allowed)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
