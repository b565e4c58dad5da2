"""`write_reports(run_dir)`: every report of an X-ray run, rebuilt from its artifacts.

Called at the end of `run_xray` and by `python -m triage_ray.report <run_dir>`. Each report is
attempted even if another fails; failures are raised together at the end, so one broken figure
never hides which other reports were written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from triage_ray.report.run import RunArtifacts

REPORTS = ("memo", "model_card", "dashboard", "review")


class ReportError(RuntimeError):
    """One or more reports could not be written (each cause is in the message)."""


def write_reports(run_dir: str | Path, *, only: tuple[str, ...] = REPORTS,
                  sensitivity: bool = True, recompute_sensitivity: bool = False,
                  log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write memo.pdf/.md/.html, model_card.md/.html, dashboard.html and review.html (the worklist
    review page) into `run_dir`."""
    from triage_ray.report.brief import frontier_html
    from triage_ray.report.dashboard import write_dashboard
    from triage_ray.report.learning import dashboard_html
    from triage_ray.report.memo import write_memo
    from triage_ray.report.model_card import write_model_card
    from triage_ray.report.review import write_review

    unknown = sorted(set(only) - set(REPORTS))
    if unknown:
        raise ValueError(f"unknown reports {unknown}; choose from {list(REPORTS)}")
    run_dir = Path(run_dir)
    run = RunArtifacts.load(run_dir)  # fails early, naming the file, if the run is incomplete
    jobs: dict[str, Callable[[], Path]] = {
        "memo": lambda: write_memo(run_dir, sensitivity=sensitivity,
                                   recompute_sensitivity=recompute_sensitivity),
        "model_card": lambda: write_model_card(run_dir),
        "dashboard": lambda: write_dashboard(
            run_dir / run.get("sweep.experiment_dir"), run_dir / "dashboard.html",
            extra_html=frontier_html(run) + dashboard_html(run), banner=run.get("data_note")),
        "review": lambda: write_review(run_dir),
    }
    written: dict[str, Path] = {}
    failed: list[str] = []
    for name in only:
        try:
            written[name] = jobs[name]()
            log(f"{name}: {written[name]}")
        except Exception as e:  # noqa: BLE001 - collected and re-raised below with the cause
            failed.append(f"{name}: {type(e).__name__}: {e}")
            log(f"{name}: FAILED ({type(e).__name__}: {e})")
    if failed:
        raise ReportError(f"{run_dir}: {len(failed)} of {len(only)} reports failed:\n  "
                          + "\n  ".join(failed))
    return written
