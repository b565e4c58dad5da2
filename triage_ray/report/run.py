"""Read one X-ray run's artifacts (metrics.json, config.json, worklist.parquet) for rendering.

Reports only ever read numbers through `RunArtifacts.get`, so a field that a renderer needs and a
run does not have fails with the file and the dotted field path, never with a bare KeyError deep
inside a template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"
WORKLIST_FILE = "worklist.parquet"
FIGURES_DIR = "figures"

_MISSING = object()


class RunFieldError(KeyError):
    """A field a report needs is absent from the run's artifacts."""

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return str(self.args[0])


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is {path.parent} a triage-ray run directory?)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): "
                         f"{e.msg}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, "
                         f"got {type(data).__name__}")
    return data


@dataclass
class RunArtifacts:
    """One run directory's metrics and config, with checked access by dotted path."""

    run_dir: Path
    metrics: dict[str, Any]
    config: dict[str, Any]
    _worklist: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, run_dir: str | Path) -> RunArtifacts:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"{run_dir}: run directory not found")
        return cls(run_dir, _read_json(run_dir / METRICS_FILE), _read_json(run_dir / CONFIG_FILE))

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / METRICS_FILE

    @property
    def figures_dir(self) -> Path:
        return self.run_dir / FIGURES_DIR

    def get(self, dotted: str, default: Any = _MISSING) -> Any:
        """metrics["a"]["b"]["c"] for "a.b.c"; missing -> `default` if given, else RunFieldError."""
        return _lookup(self.metrics, dotted, self.metrics_path, default)

    def cfg(self, key: str, default: Any = _MISSING) -> Any:
        return _lookup(self.config, key, self.run_dir / CONFIG_FILE, default)

    def worklist(self):
        """The scored pile (pandas DataFrame), read once; needs worklist.parquet in the run dir."""
        if self._worklist is None:
            import pandas as pd

            name = self.get("pile.worklist", WORKLIST_FILE)
            path = self.run_dir / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: worklist named in {self.metrics_path} not found")
            self._worklist = pd.read_parquet(path)
        return self._worklist


def _lookup(data: dict[str, Any], dotted: str, source: Path, default: Any) -> Any:
    node: Any = data
    walked: list[str] = []
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is not _MISSING:
                return default
            have = sorted(node) if isinstance(node, dict) else type(node).__name__
            where = ".".join(walked) or "<top level>"
            raise RunFieldError(f"{source}: missing field '{dotted}' ('{part}' not under {where}; "
                                f"found {have})")
        node = node[part]
        walked.append(part)
    return node
