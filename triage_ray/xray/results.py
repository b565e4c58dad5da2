"""Typed results of the X-ray study's stages, and the one function that assembles metrics.json.

Every key a report or Tune reads is a dataclass field here: the Tune result keys of a trial are
`TrialMetrics`'s fields, the sweep's trial rows are `TrialRow.to_dict()`, and `metrics.json` is
`RunMetrics.to_dict()`, built only by `assemble_metrics`. The report tests build their run
directories with `assemble_metrics` too, so renaming a field breaks them, not a memo in the field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage_ray.common.strict_json import write_strict_json
from triage_ray.train.reporting import EPOCH_KEY

if TYPE_CHECKING:
    from triage_ray.xray.standards import StandardsResult

METRICS_FILE = "metrics.json"


def _num(v: float | None) -> float:
    """Tune's result table wants numbers: an undefined value (JSON null) becomes NaN."""
    return float("nan") if v is None else float(v)


def _plain(obj: Any) -> Any:
    """Dataclasses to dicts (their own `to_dict` where they have one), recursively."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


class _ToDict:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class CalibrationResult(_ToDict):
    """The calibrator fitted on `fit_split`, judged on `eval_split` before and after."""

    method: str
    temperature: float | None  # the temperature scaler's T; None for other calibrators
    fit_split: str
    eval_split: str
    n_fit: int
    n_eval: int
    before: dict[str, Any]  # calibration_report of the raw sigmoid
    after: dict[str, Any]
    reliability: dict[str, Any]  # "before" / "after" reliability curves


@dataclass(frozen=True)
class TestCheck(_ToDict):
    """The auto-normal promise looked at out of sample, on data the thresholds never saw."""

    n_auto_normal: int
    abnormal_among_auto_normal: int
    rate: float | None
    n_test: int
    label_source: str


@dataclass(frozen=True)
class AbstentionResult:
    """The fitted `AbstentionPolicy.to_dict()` plus where it was fitted, on which labels, its test
    check, and the same procedure on the written labels (reported beside it, never used)."""

    policy: dict[str, Any]
    select_split: str
    n_select: int  # studies the bound was certified on (the adjudicated ones)
    test_check: TestCheck
    label_source: str  # what the bound is against, in words
    written_labels: dict[str, Any]  # t_low, feasible, bound, coverage, test_check on written labels

    def to_dict(self) -> dict[str, Any]:
        return {**self.policy, "select_split": self.select_split, "n_select": self.n_select,
                "label_source": self.label_source, "test_check": self.test_check.to_dict(),
                "written_labels": self.written_labels}


@dataclass(frozen=True)
class SelectionMetrics(_ToDict):
    """What `triage_ray.xray.select.rank_trials` chooses by, all measured on `select`."""

    auroc: float
    throughput_multiplier: float | None
    throughput_ci_low: float | None
    throughput_ci_high: float | None
    abnormal_ttr_median_ratio: float | None


@dataclass(frozen=True)
class PileSummary(_ToDict):
    """The scored pile: counts in and out, the prevalence estimate, the re-certified policy, and
    the simulation of reading it (in arrival order, as it came in)."""

    n_studies: int
    n_scored: int
    n_skipped: int
    skipped: list[dict[str, str]]  # path, reason: every study that could not be scored
    worklist: str  # file name of worklist.parquet in the run directory
    bucket_counts: dict[str, int]
    truth_known: bool
    prevalence: dict[str, Any]  # EM / BBSE estimates, which prior was used, and whether trusted
    covariates: dict[str, Any] | None  # the pile's covariates vs the labelled pool (None: not compared)
    policy: dict[str, Any]  # AbstentionPolicy.to_dict() as re-certified for the pile
    simulation: Any  # sim.SimResult
    gate: dict[str, Any] | None = None  # the intended-use gate's report (xray.gate.apply_gate)


@dataclass(frozen=True)
class TrialMetrics(_ToDict):
    """The flat scalars each sweep trial reports to Tune when it is scored (NaN where undefined).

    These field names are the Tune result keys, the dashboard's metrics and the columns of the
    sweep's trial rows; nothing else lists them.
    """

    test_auroc: float
    ece_before: float
    ece_after: float
    temperature: float
    t_low: float
    t_high: float
    bound: float
    feasible: float
    coverage_auto_normal: float
    coverage_uncertain: float
    coverage_priority: float
    throughput_multiplier: float
    days_to_clear: float
    missed_per_1000_auto_cleared: float
    abnormal_ttr_median_ratio: float
    normal_wait_max_hours: float
    select_auroc: float
    select_throughput_multiplier: float
    select_throughput_ci_low: float
    select_throughput_ci_high: float
    select_abnormal_ttr_median_ratio: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def build(cls, calibration: CalibrationResult, abstention: AbstentionResult,
              simulation: dict[str, Any], selection: SelectionMetrics) -> TrialMetrics:
        sim = {k: _num(v["mean"]) for k, v in simulation["metrics"].items()}
        pol, cov = abstention.policy, abstention.policy["coverage"]
        return cls(
            test_auroc=calibration.after["auroc"]["value"],
            ece_before=calibration.before["ece"]["value"],
            ece_after=calibration.after["ece"]["value"],
            temperature=_num(calibration.temperature),
            t_low=_num(pol["t_low"]), t_high=_num(pol["t_high"]), bound=_num(pol["bound"]),
            feasible=float(simulation["feasible"]),
            coverage_auto_normal=cov["auto_normal"], coverage_uncertain=cov["uncertain"],
            coverage_priority=cov["priority"],
            **{k: sim[k] for k in ("throughput_multiplier", "days_to_clear",
                                   "missed_per_1000_auto_cleared", "abnormal_ttr_median_ratio",
                                   "normal_wait_max_hours")},
            **{f"select_{k}": _num(v) for k, v in selection.to_dict().items()},
        )


@dataclass(frozen=True)
class TrialRow:
    """One sweep trial as metrics.json lists it: what was tried, how it ended, its final metrics."""

    trial_id: str | None
    backbone: str | None
    lr: float | None
    augment: float | None
    init: str | None
    status: str  # "done", "stopped" (by the scheduler, on validation AUROC), "error", "incomplete"
    error: str | None
    epochs_run: int | None
    val_auroc: float | None
    train_seconds: float | None
    checkpoint_path: str | None
    metrics: TrialMetrics | None  # None unless the trial was scored
    image_size: int | None = None  # input px (the search's resolution axis)
    trial_node_id: str | None = None  # the Ray node its trial driver ran on
    train_node_id: str | None = None  # the Ray node its (rank 0) Train worker ran on

    @classmethod
    def from_tune(cls, result) -> TrialRow:
        """From a `ray.tune.Result`: its config, last reported metrics and error."""
        m = result.metrics or {}
        cfg = result.config or {}
        scored = all(k in m for k in TrialMetrics.names())
        epochs = m.get("epochs_run") or m.get(EPOCH_KEY)
        return cls(
            trial_id=m.get("trial_id"), backbone=cfg.get("backbone"), lr=cfg.get("lr"),
            augment=cfg.get("augment"), init=cfg.get("init"), status=_status(result, m),
            error=str(result.error)[:300] if result.error else None,
            epochs_run=int(epochs) if epochs is not None else None,
            val_auroc=m.get("val_auroc"), train_seconds=m.get("time_total_s"),
            checkpoint_path=m.get("checkpoint_path"),
            metrics=TrialMetrics(**{k: m[k] for k in TrialMetrics.names()}) if scored else None,
            image_size=cfg.get("image_size"), trial_node_id=m.get("trial_node_id"),
            train_node_id=m.get("train_node_id") or m.get("node_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Flat: the trial's fields, then every TrialMetrics key (None when unscored)."""
        base = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "metrics"}
        values = self.metrics.to_dict() if self.metrics else dict.fromkeys(TrialMetrics.names())
        return {**base, **{k: (None if isinstance(v, float) and math.isnan(v) else v)
                           for k, v in values.items()}}


def _status(result, m: dict[str, Any]) -> str:
    """done: scored; stopped: ended after an epoch report with no error and no final score (the
    scheduler stopped it early; a sweep that was ended by hand also leaves this); error;
    incomplete: nothing reported."""
    if result.error:
        return "error"
    if m.get("final"):
        return "done"
    return "stopped" if m.get(EPOCH_KEY) else "incomplete"


@dataclass(frozen=True)
class SweepSummary(_ToDict):
    experiment_dir: str
    metric: str
    mode: str
    selection_rule: str
    n_trials: int
    trials: list[dict[str, Any]]  # TrialRow.to_dict() rows


@dataclass(frozen=True)
class RunMetrics(_ToDict):
    """metrics.json of one X-ray run."""

    run_id: str
    created: str
    generated_data: bool
    data_note: str
    data: dict[str, Any]  # source, size, splits, representativeness, ingest
    sweep: SweepSummary
    best: dict[str, Any]  # trial_id, backbone, lr, checkpoint_path
    calibration: CalibrationResult
    abstention: AbstentionResult
    simulation: dict[str, Any]  # sim.SimResult.to_dict() on a test-drawn pile, plus "pile"
    pile: dict[str, Any]  # source info, ingest, and PileResult.summary
    reference: dict[str, Any]  # ReferenceStandard.to_dict(): what the bound is against, its cost
    operating: dict[str, Any] | None  # OperatingResult.to_dict(): the frontier, the chosen point
    brief: dict[str, Any] | None  # triage_ray.xray.brief.answer_brief
    timings: dict[str, float]
    # generated data only (triage_ray.xray.truth): the model against the generator's truth
    model_vs_truth: dict[str, Any] | None = None
    pretrain: dict[str, Any] | None = None  # per backbone: the "pretrain" init's weights and cost
    learning_curve: dict[str, Any] | None = None  # xray.learning_curve
    subgroups: dict[str, Any] | None = None  # xray.subgroups: test-split results by view/sex/age
    uncertainty: dict[str, Any] | None = None  # xray.uncertainty: study-bootstrap intervals
    # xray.budget.RunPlan.to_dict(): the time budget's plan, with the run's actual seconds
    budget: dict[str, Any] | None = None
    # xray.provenance.Provenance.to_dict(): each input generated or real; drives every banner
    provenance: dict[str, Any] | None = None
    # xray.standards: the chosen model under every guarantee family, and today's reading
    standards: StandardsResult | None = None
    config: str = "config.json"


def assemble_metrics(*, run_id: str, generated: bool, data_note: str, data: dict[str, Any],
                     rows: list[TrialRow], selection_rule: str, metric: str, best: dict[str, Any],
                     scored, pile_info: dict[str, Any], pile_summary: PileSummary,
                     reference: dict[str, Any], operating: dict[str, Any] | None,
                     brief: dict[str, Any] | None, timings: dict[str, float],
                     created: str | None = None, experiment_dir: str = "tune",
                     model_vs_truth: dict[str, Any] | None = None,
                     pretrain: dict[str, Any] | None = None,
                     learning_curve: dict[str, Any] | None = None,
                     subgroups: dict[str, Any] | None = None,
                     uncertainty: dict[str, Any] | None = None,
                     budget: dict[str, Any] | None = None,
                     provenance: dict[str, Any] | None = None,
                     standards: StandardsResult | None = None) -> RunMetrics:
    """The one place metrics.json's structure is decided (`scored`: a `ScoredConfig`)."""
    trials = [r.to_dict() for r in rows]
    return RunMetrics(
        run_id=run_id,
        created=created or datetime.now(UTC).isoformat(timespec="seconds"),
        generated_data=generated, data_note=data_note, data=data,
        sweep=SweepSummary(experiment_dir=experiment_dir, metric=metric, mode="max",
                           selection_rule=selection_rule, n_trials=len(trials), trials=trials),
        best={k: best.get(k) for k in ("trial_id", "backbone", "lr", "augment", "init",
                                       "image_size", "epochs_run", "checkpoint_path")},
        calibration=scored.calibration, abstention=scored.abstention,
        simulation=scored.simulation_dict(), pile={**pile_info, **pile_summary.to_dict()},
        reference=reference, operating=operating, brief=brief, timings=timings,
        model_vs_truth=model_vs_truth, pretrain=pretrain, learning_curve=learning_curve,
        subgroups=subgroups, uncertainty=uncertainty, budget=budget, provenance=provenance,
        standards=standards,
    )


def write_metrics(run_dir: Path, metrics: RunMetrics) -> Path:
    path = run_dir / METRICS_FILE
    write_strict_json(path, metrics.to_dict())
    return path
