"""Read a Ray Tune experiment directory, finished or still running, with Tune's own reader.

`ray.tune.ExperimentAnalysis` (Ray 2.60) reads the experiment_state-*.json snapshot Tune writes
(trial ids, statuses, configs, searched parameters, last results) and each trial's reported rows
(result.json, or progress.csv); this module turns that into plain `Trial` / `Experiment` objects
for the dashboard. No Ray cluster is needed (ExperimentAnalysis only reads files), so the page can
be built beside a live sweep or on a laptop. What a live sweep shows is handled, and anything
skipped is *reported* on the page, never dropped silently:

- Tune records a running trial as PENDING in its snapshot (so a restore re-runs it); a PENDING
  trial whose folder holds Tune's per-trial files has started and is shown as RUNNING (Tune also
  creates empty folders for trials it has not started).
- A trial whose rows cannot be read (a half-written last line while the sweep writes it) keeps
  the last result the snapshot holds, and the page says so.
- The snapshot is saved every few seconds: a trial folder it does not list yet is named.
- Before Tune's first snapshot there is nothing to read: the experiment has no trials yet.
"""

from __future__ import annotations

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
    logdir: Path | None  # None: scheduled, not started (no per-trial files yet)
    status: str  # PENDING | RUNNING | TERMINATED | ERROR | PAUSED (Tune's words)
    params: dict[str, Any]  # the trial's config, nested as Tune holds it
    rows: list[dict[str, Any]] = field(default_factory=list)  # every reported row, in order
    error: str | None = None  # error.txt, when the trial failed
    last_result: dict[str, Any] = field(default_factory=dict)  # Tune's last result (snapshot)

    @property
    def last(self) -> dict[str, Any]:
        """Each metric's latest reported value (per-epoch metrics survive a final row). Tune's
        last result, when it is not older than the rows, has the final say (a metric the last
        report set to NaN is NaN, not an earlier value)."""
        merged: dict[str, Any] = {}
        for row in self.rows:
            merged.update({k: v for k, v in row.items() if v is not None})
        it = self.rows[-1].get("training_iteration", 0) if self.rows else 0
        if self.last_result and self.last_result.get("training_iteration", 0) >= it:
            merged.update({k: v for k, v in self.last_result.items() if v is not None})
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
    warnings: list[str]  # unreadable rows, folders the snapshot lacks: shown on the page
    state_file: Path | None  # the experiment_state-*.json snapshot read (None: none yet)

    @property
    def finished(self) -> bool:
        return bool(self.trials) and all(t.status in TERMINAL for t in self.trials)

    def metric_names(self) -> list[str]:
        """Numeric metrics any trial reported, in first-seen order."""
        names: dict[str, None] = {}
        for t in self.trials:
            for row in (*t.rows, t.last):
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


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _rows(df: Any) -> list[dict[str, Any]]:
    """A trial's progress DataFrame as reported rows: the config columns (`config/...`, the
    trial's config repeated on every row) left out, and so are cells a row did not report (NaN
    where another row has the column; a reported NaN comes back through the last result)."""
    cols = [c for c in df.columns if not str(c).startswith("config/")]
    return [{k: v for k, v in rec.items() if not _missing(v)}
            for rec in df[cols].to_dict("records")]


def _last_result(trial: Any) -> dict[str, Any]:
    return {k: v for k, v in (trial.last_result or {}).items() if k != "config"}


def _status(status: str, logdir: Path | None, error: str | None) -> str:
    if error is not None and status not in TERMINAL:
        return "ERROR"  # failed after the snapshot was saved
    if status == "PENDING" and logdir is not None:
        return "RUNNING"  # Tune saves running trials as PENDING; its files say it started
    return status


def _started(folder: Path) -> bool:
    """Tune writes params.json when a trial starts, then result.json / progress.csv rows."""
    return any((folder / f).is_file() for f in ("params.json", "result.json", "progress.csv"))


def _error_text(trial: Any, logdir: Path | None) -> str | None:
    err = trial.get_error()
    if err is None and logdir is not None and (logdir / "error.txt").is_file():
        err = (logdir / "error.txt").read_text(errors="replace")  # newer than the snapshot
    return err


def _varying(trials: Sequence[Trial]) -> list[str]:
    """Scalar params whose value differs across trials (all scalar ones for a single trial)."""
    flat = [flatten(t.params) for t in trials]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    scalar = [k for k in keys if all(isinstance(f.get(k), str | int | float | bool | None)
                                     for f in flat)]
    if len(trials) < 2:
        return scalar
    return [k for k in scalar if len({json.dumps(f.get(k)) for f in flat}) > 1]


def _trial_folders(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir() and _started(d))


def load_experiment(path: str | Path) -> Experiment:
    """Every trial of the Tune experiment directory `path`, with status, params and rows.

    `path` is made absolute: ExperimentAnalysis reads through pyarrow's filesystem layer, which
    refuses a relative path ("URI has empty scheme") - the way `python -m triage_ray.report
    reports/xray/<run-id>` passes it."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: Tune experiment directory not found")
    warnings: list[str] = []
    states = sorted(path.glob("experiment_state-*.json"), key=lambda p: p.name)
    if not states:
        warnings.append(f"{path}: no experiment_state-*.json yet (Tune writes its first snapshot "
                        "shortly after the sweep starts); no trials to show")
        return Experiment(path, [], [], warnings, None)
    state_file = states[-1]  # the newest, by Tune's own rule (the largest timestamped name)
    from ray.tune import ExperimentAnalysis

    try:
        analysis = ExperimentAnalysis(str(state_file))
    except (OSError, ValueError, KeyError, TypeError) as e:
        warnings.append(f"{state_file}: unreadable, no trials shown ({e!r})")
        return Experiment(path, [], [], warnings, state_file)
    frames = analysis.trial_dataframes
    trials: list[Trial] = []
    listed: set[Path] = set()
    searched: dict[str, None] = {}
    for tr in analysis.trials:
        folder = Path(tr.path)
        listed.add(folder.resolve())
        logdir = folder if _started(folder) else None
        last = _last_result(tr)
        rows = _rows(frames[tr.trial_id])
        if not rows and "training_iteration" in last:  # reported, per Tune's snapshot
            warnings.append(f"{folder / 'result.json'}: rows could not be read (a torn or "
                            "invalid line: the sweep may be writing it); showing only the last "
                            f"result in Tune's snapshot {state_file.name}")
            rows = [last]
        error = _error_text(tr, logdir)
        trials.append(Trial(tr.trial_id, logdir, _status(tr.status, logdir, error),
                            dict(tr.config or {}), rows, error, last))
        searched.update(dict.fromkeys(flatten(tr.evaluated_params or {})))
    for d in _trial_folders(path):
        if d.resolve() not in listed:
            warnings.append(f"{d}: a trial folder that Tune's snapshot {state_file.name} does "
                            "not list (started after the snapshot, or copied in); not shown")
    ordered = sorted(trials, key=lambda t: t.trial_id)
    return Experiment(path, ordered, list(searched) or _varying(ordered), warnings, state_file)


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
