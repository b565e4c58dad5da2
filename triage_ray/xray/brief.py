"""The brief's question, answered from this run: does the model double effective throughput?

Wires `triage_ray.xray.doubling` to the run's own artifacts: the binormal score model is fitted to
the chosen model's scores on the `select` reference set, the present point is the pile's
prevalence as the reference defines abnormal, and the costs are the reference set's reads and the
pile simulation's days. Nothing here asserts a number; every figure is computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.doubling import Binormal, ceiling, doubling_grid, fit_binormal, net_of_costs
from triage_ray.xray.operating import ScoredSet
from triage_ray.xray.reference import ReferenceStandard
from triage_ray.xray.results import PileSummary
from triage_ray.xray.score import staffing_of

PREVALENCE_FLOOR = 0.01


def pile_prevalence(summary: PileSummary, select: ScoredSet) -> dict[str, Any]:
    """The pile's prevalence in the certifying labels' terms: the EM estimate with its interval
    when it lies in the validated range, else the selection set's own (the estimate is named)."""
    prev = summary.prevalence.get("reference") or summary.prevalence
    em = prev["em"]
    lo, hi = prev["validated_range"]
    if lo <= em["ci_low"] <= em["ci_high"] <= hi:
        return {**em, "basis": "EM estimate on the pile"}
    own = float(select.y.mean())
    half = 1.96 * float(np.sqrt(own * (1 - own) / max(select.n, 1)))
    return {"value": own, "ci_low": max(0.0, own - half), "ci_high": min(1.0, own + half),
            "basis": f"the selection set's prevalence: the pile's EM estimate {em['value']:.3f} "
                     f"({em['ci_low']:.3f}-{em['ci_high']:.3f}) left the validated range "
                     f"{lo:.2f}-{hi:.2f}, so it is not used"}


def shown_gain(multiplier: dict[str, float | None]) -> float:
    """The multiplier a saving is counted at: its mean when its 95% CI lies above 1, else 1.

    Why: with nothing cleared the simulated multiplier is 1 up to noise (1.000005 on a default
    run), and a break-even day computed from that noise came out as 2.4 million days."""
    low = multiplier.get("ci_low")
    return float(multiplier["mean"]) if low is not None and low > 1.0 else 1.0


def answer_brief(cfg: XrayConfig, deployed: XrayConfig, select: ScoredSet,
                 reference: ReferenceStandard, pile: PileSummary) -> dict[str, Any]:
    """Measured multiplier on the pile, the ceiling for its case mix, what doubling would take,
    and the net of the reference set's cost, with one plain sentence.

    The question is asked at the study's target (`cfg.alpha`, the brief's 1%), whichever operating
    point the pile was triaged at (`deployed`: its audit fraction is the one the pile paid for).
    """
    staffing = staffing_of(cfg)
    prev = pile_prevalence(pile, select)
    model = fit_binormal(select.p, select.y, seed=cfg.seed)
    # an estimate at the edge (EM can run to 0 or 1 with a weak model) is held inside the grid's
    # range; the estimate itself is reported unchanged
    present = float(np.clip(prev["value"], PREVALENCE_FLOOR, 1 - PREVALENCE_FLOOR))
    kw = dict(n_reference=select.n, alpha=cfg.alpha, delta=cfg.delta,
              audit_fraction=deployed.audit_fraction, staffing=staffing, pile_size=cfg.pile_size,
              seed=cfg.seed, pile_prevalence=present)
    grid = doubling_grid(model, **kw)
    # The fitted shape decides the low-score tail that certification lives in (a wide abnormal
    # class keeps abnormal studies among the lowest scores at any AUROC), so the textbook
    # equal-variance case is shown beside it: what a model of the same AUROC but clean tails does.
    textbook = doubling_grid(Binormal.calibrated(max(model.auroc, 0.51), float(select.y.mean())),
                             **kw)
    sim = pile.simulation.to_dict()["metrics"]
    multiplier = sim["throughput_multiplier"]
    cost = reference.cost(staffing.reads_per_day)
    net = net_of_costs(days_with=sim["days_to_clear"]["mean"],
                       days_without=sim["days_to_clear_no_ai"]["mean"],
                       reference_reads=int(round(cost["reads"])), audit_reads_per_day=None,
                       staffing=staffing, inflow_per_day=cfg.inflow_per_day,
                       multiplier=shown_gain(multiplier))
    normal = (1 - prev["ci_high"], 1 - prev["ci_low"])
    return {
        "label_source": select.label_source, "alpha": cfg.alpha,
        "audit_fraction": deployed.audit_fraction,
        "measured_multiplier": multiplier,
        "pile_prevalence": prev,
        "ceiling": {"truly_normal_share": {"value": 1 - prev["value"], "ci_low": normal[0],
                                           "ci_high": normal[1]},
                    "multiplier": ceiling(1 - prev["value"], deployed.audit_fraction),
                    "multiplier_ci": list(ceiling(normal, deployed.audit_fraction))},
        "doubling": grid.to_dict(),
        "doubling_equal_variance": textbook.to_dict(),
        "reference_cost": cost,
        "net": net.to_dict(),
        "answer": grid.answer(),
    }
