"""The short Markdown summary of an X-ray run, rendered only from its metrics.json content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from triage_ray.report.fmt import ci


def _f(v: float | None, spec: str = ".3f") -> str:
    """A number, or 'none' where the run produced none (e.g. no threshold met its target)."""
    return "none" if v is None else format(v, spec)


def render_summary(metrics: dict[str, Any]) -> str:
    cal, ab, sim, pile = (metrics[k] for k in ("calibration", "abstention", "simulation", "pile"))
    best = metrics["best"]
    sm, pm = sim["metrics"], pile["simulation"]["metrics"]
    lines = [
        f"# X-ray triage run {metrics['run_id']}",
        "",
        f"> {metrics['data_note']}",
        "",
        f"Best configuration: **{best['backbone']}**, lr {best['lr']} "
        f"(of {metrics['sweep']['n_trials']} trials; chosen "
        f"{metrics['sweep'].get('selection_rule', 'by simulated throughput under the miss-rate bound')}).",
        "",
        "## Held-out test split",
        f"- AUROC: {ci(cal['after']['auroc'], 3)}",
        f"- ECE (15 bins) before temperature scaling: {ci(cal['before']['ece'], 3)}; "
        f"after (T = {cal['temperature']:.2f}, fitted on `{cal['fit_split']}`): "
        f"{ci(cal['after']['ece'], 3)}",
        f"- Thresholds (chosen on `{ab['select_split']}`): t_low {_f(ab['t_low'])}, "
        f"t_high {_f(ab['t_high'])}; miss-rate bound met: {ab['feasible']}",
        f"- Upper {1 - ab['delta']:.0%} bound on the abnormal rate among auto-normal studies: "
        f"{_f(ab['bound'], '.4f')} (target alpha {ab['alpha']})",
        "- Coverage: " + ", ".join(f"{k} {v:.1%}" for k, v in ab["coverage"].items()),
        "",
        f"## Simulated reading ({sim['staffing']['radiologists']} radiologists x "
        f"{sim['staffing']['hours_per_day']} h/day x {sim['staffing']['reads_per_hour']} reads/h, "
        f"policy `{sim['policy']}`, {sim['n_reps']} replications)",
        f"- Effective throughput multiplier: {ci(sm['throughput_multiplier'], 2)}",
        f"- Days to clear: {ci(sm['days_to_clear'], 1)} vs {ci(sm['days_to_clear_no_ai'], 1)} "
        f"without the model",
        "",
        f"## The unlabeled pile ({pile['n_studies']} studies)",
        f"- Scored: {pile['n_scored']}; skipped: {pile['n_skipped']}; worklist: `{pile['worklist']}`",
        f"- Estimated abnormal prevalence: EM {ci(pile['prevalence']['em'], 3)}, "
        f"BBSE {ci(pile['prevalence']['bbse'], 3)}; within validated range: "
        f"{pile['prevalence']['in_validated_range']}",
        "- Buckets: " + ", ".join(f"{k} {v}" for k, v in pile["bucket_counts"].items()),
        f"- Throughput multiplier on the pile: {ci(pm['throughput_multiplier'], 2)}; "
        f"days to clear {ci(pm['days_to_clear'], 1)} (no model: {ci(pm['days_to_clear_no_ai'], 1)})",
    ]
    if pile["truth_known"]:
        lines.append(
            f"- Missed abnormals among auto-cleared (truth known only because the pile is generated): "
            f"{ci(pm['missed_abnormals'], 1)} per pile"
        )
    lines += ["", f"Wall time: {metrics['timings']['total_s']:.0f} s. Config: `config.json`."]
    return "\n".join(lines) + "\n"


def write_summary(metrics: dict[str, Any], path: Path) -> Path:
    path.write_text(render_summary(metrics))
    return path
