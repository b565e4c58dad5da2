"""Triage a new pile with an earlier run's model: no training, the same gate, thresholds and
operating point the study chose (`xray.deployment`).

What a site does once a study has accepted a model: each new export (this week's backlog) is
read, checked against the intended use, scored and ordered, and the simulation says what the
worklist does to the radiologists' day. Writes `<run>/piles/<pile-run-id>/` (or `out_dir`):
worklist.parquet (provenance in its metadata), pile.json (the pile section a study's
metrics.json has, with this pile's provenance and the model it was scored with) and summary.md.
Rerunning with the same `out_dir` resumes: studies already scored are not scored again.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage_ray.common.strict_json import write_strict_json
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.deployment import Deployment, TriagedPile, load_deployment, triage_pile
from triage_ray.xray.sources import Log

PILES_DIR, PILE_RECORD = "piles", "pile.json"
KIND = "a pile triaged with an earlier run's model (no training)"


def pile_config(dep: Deployment, pile_root: str | None,
                pile_source: str | None) -> XrayConfig:
    """The run's configuration with this pile's root and layout (none: the run's own pile)."""
    if pile_root is None:
        return dep.cfg
    return dataclasses.replace(dep.cfg, pile_root=str(pile_root),
                               pile_source=pile_source or dep.cfg.pile_source)


def startup_lines(dep: Deployment, run_dir: Path, cfg: XrayConfig) -> list[str]:
    """What will happen, said before Ray starts."""
    pile = (f"{cfg.pile_source} export at {cfg.pile_root}" if cfg.pile_root
            else f"the run's own GENERATED pile ({cfg.pile_size:,} studies)")
    m = dep.model
    lines = [f"scoring {pile} with the model of run {run_dir.name} ({m.get('backbone')}, "
             f"{dep.input_px} px, trial {m.get('trial_id')}); no training"]
    op = dep.operating_point
    lines.append("operating point: " + (
        f"alpha {op['alpha']}, priority rule {op['priority_rule']}, audit {op['audit_fraction']}"
        if op else "the run's configured one (its operating stage recommended none)"))
    return lines


def score_new_pile(run_dir: Path, *, pile_root: str | None = None, pile_source: str | None = None,
                   out_dir: Path | None = None, log: Log = print,
                   dep: Deployment | None = None) -> Path:
    """Triage the pile with the run's deployment (module doc); returns the output folder."""
    import ray

    from triage_ray.report.summary import write_pile_summary
    from triage_ray.xray.profiles import for_scoring

    t0 = time.time()
    run_dir = Path(run_dir).resolve()
    dep = dep or load_deployment(run_dir)
    cfg = pile_config(dep, pile_root, pile_source)
    if ray.is_initialized():  # a GPU-trained model scores on this cluster's devices
        cfg = for_scoring(cfg, ray.nodes(), log)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(out_dir).resolve() if out_dir else run_dir / PILES_DIR / stamp
    resuming = (out / "pile_logits").is_dir()
    out.mkdir(parents=True, exist_ok=True)
    log(f"pile output: {out}" + (" (resuming: scored studies are kept)" if resuming else ""))
    triaged = triage_pile(dep, cfg, out, resuming=resuming, log=log)
    record = pile_record(dep, run_dir, out, triaged, time.time() - t0)
    write_strict_json(out / PILE_RECORD, record)
    write_pile_summary(record, out / "summary.md")
    log(triaged.provenance.banner())
    return out


def pile_record(dep: Deployment, run_dir: Path, out: Path, triaged: TriagedPile,
                seconds: float) -> dict[str, Any]:
    """pile.json: this pile's provenance and results, and the model and run they came from."""
    prov = triaged.provenance
    return {"kind": KIND, "pile_run_id": out.name, "source_run": run_dir.name,
            "model": dep.model, "input_px": dep.input_px,
            "certified_against": dep.label_source, "operating_point": dep.operating_point,
            "generated_data": prov.any_generated, "data_note": prov.banner(),
            "provenance": prov.to_dict(),
            "pile": {**triaged.info, **triaged.result.summary.to_dict()},
            "not_run": ["training, calibration and threshold choice (reused from the run)",
                        "the study bootstrap of the pile's figures (run the study for those)"],
            "timings": {"total_s": seconds}}
