"""The contract every study configuration shares: defaults in one dataclass, unknown keys raise,
the resolved values saved beside each run."""

from __future__ import annotations

import dataclasses
import json
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
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
