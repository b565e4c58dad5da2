"""Read a Ray Tune experiment directory from its files alone, finished or still running.

Reads what Tune writes (Ray 2.60): one directory per trial with params.json and result.json (one
JSON object per reported row; progress.csv holds the same), error.txt when a trial failed, and the
experiment-level experiment_state-*.json (trial status and the searched parameters). No Ray import
and no pickle: the dashboard can run beside a live sweep, on a laptop without the cluster, and a
half-written last line (a sweep mid-write) is skipped and *reported*, never silently dropped.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Tune's own per-row bookkeeping: not metrics a reader compares trials by
TUNE_BOOKKEEPING = frozenset({
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date",
    "time_this_iter_s", "pid", "hostname", "node_ip", "time_since_restore",
    "iterations_since_restore", "config", "should_checkpoint", "episodes_total",
    "timesteps_total", "experiment_tag", "final",
})
TERMINAL = frozenset({"TERMINATED", "ERROR"})


@dataclass
class Trial:
    trial_id: str
    logdir: Path | None  # None: scheduled, no directory yet
    status: str  # PENDING | RUNNING | TERMINATED | ERROR | PAUSED (Tune's words)
    params: dict[str, Any]  # the trial's config (params.json), nested as Tune wrote it
    rows: list[dict[str, Any]] = field(default_factory=list)  # every reported row, in order
    error: str | None = None  # error.txt, when the trial failed

    @property
    def last(self) -> dict[str, Any]:
        """Each metric's latest reported value (per-epoch metrics survive a final row)."""
        merged: dict[str, Any] = {}
        for row in self.rows:
            merged.update({k: v for k, v in row.items() if v is not None})
        return merged

    def metric(self, name: str) -> float | None:
        v = self.last.get(name)
        if isinstance(v, bool):
            return float(v)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


@dataclass
class Experiment:
    path: Path
    trials: list[Trial]
    hyperparams: list[str]  # dotted names of the searched parameters
    warnings: list[str]  # skipped lines, unreadable files: shown on the page
    state_file: Path | None

    @property
    def finished(self) -> bool:
        return bool(self.trials) and all(t.status in TERMINAL for t in self.trials)

    def metric_names(self) -> list[str]:
        """Numeric metrics any trial reported, in first-seen order."""
        names: dict[str, None] = {}
        for t in self.trials:
            for row in t.rows:
                for k, v in row.items():
                    if k not in TUNE_BOOKKEEPING and isinstance(v, int | float):
                        names.setdefault(k, None)
        return list(names)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def _read_rows(logdir: Path, warnings: list[str]) -> list[dict[str, Any]]:
    """result.json rows; a line that is not a JSON object is skipped and reported."""
    path = logdir / "result.json"
    if not path.is_file():
        return _read_progress_csv(logdir, warnings)
    rows = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            live = " (the last line: the sweep may be writing it)" if i == len(lines) else ""
            warnings.append(f"{path}: line {i} is not valid JSON, skipped{live}: {e.msg}")
            continue
        if not isinstance(row, dict):
            warnings.append(f"{path}: line {i} is not a JSON object, skipped")
            continue
        row.pop("config", None)  # the trial's config, repeated on every row: params.json has it
        rows.append(row)
    return rows


def _read_progress_csv(logdir: Path, warnings: list[str]) -> list[dict[str, Any]]:
    path = logdir / "progress.csv"
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as f:
        for i, rec in enumerate(csv.DictReader(f), start=2):
            if None in rec:  # more cells than header fields: a torn row
                warnings.append(f"{path}: row {i} has extra cells, skipped")
                continue
            rows.append({k: _parse_cell(v) for k, v in rec.items() if v not in ("", None)})
    return rows


def _parse_cell(v: str) -> Any:
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def _read_json(path: Path, warnings: list[str]) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        warnings.append(f"{path}: unreadable, ignored ({e})")
        return None


def _read_state(path: Path, warnings: list[str]) -> dict[str, dict[str, Any]]:
    """trial_id -> {"status", "evaluated_params", "relative_logdir", "config"} from Tune's state."""
    state = _read_json(path, warnings)
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(state, dict) or not isinstance(state.get("trial_data"), list):
        if state is not None:
            warnings.append(f"{path}: no trial_data list; statuses derived from trial folders")
        return out
    for i, entry in enumerate(state["trial_data"]):
        try:
            info = json.loads(entry[0]) if isinstance(entry, list) else entry
            out[str(info["trial_id"])] = {k: info.get(k) for k in (
                "status", "evaluated_params", "relative_logdir", "config")}
        except (TypeError, KeyError, IndexError, json.JSONDecodeError) as e:
            warnings.append(f"{path}: trial_data[{i}] unreadable, ignored ({e!r})")
    return out


def _trial_id_of(logdir: Path, rows: list[dict[str, Any]]) -> str:
    for row in rows:
        if row.get("trial_id"):
            return str(row["trial_id"])
    parts = logdir.name.split("_")  # Tune's dir name: <trainable>_<trial_id: xxxxx_NNNNN>_...
    return "_".join(parts[1:3]) if len(parts) >= 3 else logdir.name


def _derive_status(rows: list[dict[str, Any]], error: str | None) -> str:
    if error is not None:
        return "ERROR"
    if rows and (rows[-1].get("done") or rows[-1].get("final")):
        return "TERMINATED"
    return "RUNNING" if rows else "PENDING"


def _varying(trials: Sequence[Trial]) -> list[str]:
    """Scalar params whose value differs across trials (all scalar ones for a single trial)."""
    flat = [flatten(t.params) for t in trials]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    scalar = [k for k in keys if all(isinstance(f.get(k), str | int | float | bool | None)
                                     for f in flat)]
    if len(trials) < 2:
        return scalar
    return [k for k in scalar if len({json.dumps(f.get(k)) for f in flat}) > 1]


def load_experiment(path: str | Path) -> Experiment:
    """Every trial under `path` (a Tune experiment directory), with status, params and rows."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: Tune experiment directory not found")
    warnings: list[str] = []
    states = sorted(path.glob("experiment_state-*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    state_file = states[-1] if states else None
    state = _read_state(state_file, warnings) if state_file else {}
    id_by_dir = {st["relative_logdir"]: tid for tid, st in state.items()
                 if st.get("relative_logdir")}
    trials: dict[str, Trial] = {}
    for logdir in sorted(p for p in path.iterdir() if p.is_dir()):
        if not ((logdir / "params.json").is_file() or (logdir / "result.json").is_file()):
            continue
        params = _read_json(logdir / "params.json", warnings) if (
            logdir / "params.json").is_file() else None
        rows = _read_rows(logdir, warnings)
        err_file = logdir / "error.txt"
        error = err_file.read_text(errors="replace") if err_file.is_file() else None
        tid = id_by_dir.get(logdir.name) or _trial_id_of(logdir, rows)
        if tid in trials:  # two folders claim one id (copied folders?): keep both, say so
            warnings.append(f"{logdir}: trial id {tid} also in {trials[tid].logdir}; "
                            f"listed under its folder name")
            tid = logdir.name
        trials[tid] = Trial(tid, logdir, _derive_status(rows, error),
                            params if isinstance(params, dict) else {}, rows, error)
    for tid, st in state.items():
        t = trials.get(tid)
        if t is None:  # scheduled but not started: no folder yet
            trials[tid] = Trial(tid, None, st.get("status") or "PENDING", st.get("config") or {})
        elif st.get("status") and not (t.error and st["status"] != "ERROR"):
            t.status = st["status"]
    ordered = sorted(trials.values(), key=lambda t: t.trial_id)
    searched = [k for st in state.values() for k in flatten(st.get("evaluated_params") or {})]
    hyperparams = list(dict.fromkeys(searched)) or _varying(ordered)
    return Experiment(path, ordered, hyperparams, warnings, state_file)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: x higher-is-better, y lower-is-better.

    A point is dominated if another is at least as good on both and strictly better on one.
    Returned in order of increasing x."""
    idx = [i for i, (x, y) in enumerate(points) if math.isfinite(x) and math.isfinite(y)]
    front = [
        i for i in idx
        if not any(points[j][0] >= points[i][0] and points[j][1] <= points[i][1]
                   and points[j] != points[i] for j in idx)
    ]
    return sorted(front, key=lambda i: (points[i][0], points[i][1]))
