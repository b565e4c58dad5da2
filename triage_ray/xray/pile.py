"""Score the unlabeled pile with the chosen model and write the worklist (every study once).

logits (Ray Data batch inference) -> the trial's calibrator -> prevalence estimate (EM, BBSE on
bias-corrected posteriors) -> thresholds re-certified for the worst prior in the estimate's interval
(never looser than validated) -> buckets and the read order -> worklist Parquet -> the same SimPy
judge as the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit

from triage_ray.abstain import adjust_posteriors, prior_shift_report, worklist_order
from triage_ray.abstain.buckets import BUCKET_NAMES, Bucket
from triage_ray.calibrate import PlattScaler
from triage_ray.common.stats import bootstrap_weights
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.operating import ScoredSet
from triage_ray.xray.provenance import write_parquet
from triage_ray.xray.reference import WRITTEN
from triage_ray.xray.results import PileSummary
from triage_ray.xray.score import ScoredConfig, abstention_policy, simulate_scores

# How far (absolute prevalence) the pile may sit from the selection split before we flag it: the
# label-shift reweighting behind the re-chosen thresholds assumes p(x | y) is unchanged, which a large
# prevalence change makes less plausible (a different population, not just a different mix).
SHIFT_TOLERANCE = 0.15
N_PRIOR_BOOT = 200  # bootstrap replicates of the prevalence estimates
MAX_DRAWS = 50  # draws per replicate before a fit set with one class too rare is refused


@dataclass
class PileResult:
    worklist: pd.DataFrame
    summary: PileSummary


def estimate_pile_prior(
    pile_logit: np.ndarray, held: HeldOutLogits, *, seed: int,
    calib_patients: np.ndarray | None = None,
) -> dict[str, Any]:
    """The pile's prevalence in the written labels' terms: Platt fitted on `calib`, checked on
    `select` (see `prior_estimate`). `calib_patients`: each calib study's patient, so the
    interval resamples patients (a patient's follow-up images are not independent draws)."""
    return prior_estimate(pile_logit, (held.logit["calib"], held.label["calib"]),
                          (held.logit["select"], held.label["select"]), seed=seed,
                          label_source=WRITTEN, fit_name="calib", fit_groups=calib_patients)


def prior_estimate(pile_z: np.ndarray, fit: tuple[np.ndarray, np.ndarray],
                   val: tuple[np.ndarray, np.ndarray], *, seed: int, label_source: str,
                   fit_name: str, fit_groups: np.ndarray | None = None) -> dict[str, Any]:
    """EM and BBSE on bias-corrected posteriors (Platt = temperature + bias, fitted on `fit`).

    Temperature scaling cannot remove a logit offset, and EM reads any offset as a prevalence
    shift (Alexandari et al. 2020: EM needs bias-corrected calibration); Platt fixes that. The
    estimate is of the prevalence *as `fit`'s labels define abnormal*: written labels and a
    reference panel call different studies abnormal, so each gets its own estimate.
    """
    z_fit, y_fit = fit
    z_val, y_val = val
    platt = PlattScaler().fit(z_fit, y_fit)
    lo = max(0.0, y_val.mean() - SHIFT_TOLERANCE)
    hi = min(1.0, y_val.mean() + SHIFT_TOLERANCE)
    # one stream, drawn lazily: the same replicates as before whenever none needs drawing again
    resamples = bootstrap_weights(y_fit.size, N_PRIOR_BOOT * MAX_DRAWS, seed + 7, groups=fit_groups)
    redrawn = 0

    def em_refit(b: int) -> tuple[np.ndarray, float]:
        """Platt refitted on a resample of its fit set (by patient when `fit_groups` is given):
        EM's interval then covers the calibrator's error too. A resample holding one class only
        (a small fit set at a prevalence near 0 or 1) cannot be fitted: it is drawn again, and
        the count is reported."""
        nonlocal redrawn
        for _ in range(MAX_DRAWS):
            idx = np.repeat(np.arange(y_fit.size), next(resamples).astype(np.int64))
            if np.unique(y_fit[idx]).size == 2:
                return PlattScaler().fit(z_fit[idx], y_fit[idx]).predict_proba(pile_z), float(
                    y_fit[idx].mean())
            redrawn += 1
        raise ValueError(f"{fit_name}: {MAX_DRAWS} resamples in a row held one class only "
                         f"({int(y_fit.sum())} abnormal of {y_fit.size}): too few of one class to "
                         "estimate the pile's prevalence; label more calibration studies")

    report = prior_shift_report(
        platt.predict_proba(pile_z), platt.predict_proba(z_val), y_val,
        float(y_fit.mean()), validated_range=(lo, hi), seed=seed, em_refit=em_refit,
        n_boot=N_PRIOR_BOOT,
    )
    return {**report, "label_source": label_source, "resamples_redrawn": redrawn,
            "posteriors": f"Platt (bias-corrected temperature), fitted on {fit_name}",
            "calibration_resampled_by": "patient" if fit_groups is not None else "study"}


def reference_prior(p_pile: np.ndarray, select: ScoredSet, seed: int) -> dict[str, Any]:
    """The pile's prevalence as the reference standard defines abnormal: Platt on the calibrated
    score's logit, fitted and checked on the `select` reference set."""
    z = logit(np.clip(select.p, 1e-6, 1 - 1e-6))
    return prior_estimate(logit(np.clip(p_pile, 1e-6, 1 - 1e-6)), (z, select.y), (z, select.y),
                          seed=seed, label_source=select.label_source,
                          fit_name="the select reference set")


def conservative_deploy_prior(shift: dict[str, Any], validated_prior: float) -> tuple[float, float]:
    """The prior interval the pile's thresholds are certified for: both methods' CIs *and* the
    validated prevalence. The bound is computed at the interval's worst end, so an estimate can
    tighten the thresholds (pile looks sicker) but never loosen them below what was validated."""
    ends = [validated_prior, shift["em"]["ci_low"], shift["em"]["ci_high"]]
    if shift["bbse"]["value"] is not None:
        ends += [shift["bbse"]["ci_low"], shift["bbse"]["ci_high"]]
    return float(np.clip(min(ends), 1e-3, 1 - 1e-3)), float(np.clip(max(ends), 1e-3, 1 - 1e-3))


NOTHING_IN_SCOPE = ("no pile study is inside the intended use: this estimate is over studies "
                    "outside it, for the record only")


def pile_covariates(labelled: pd.DataFrame, pile: pd.DataFrame, pile_prior: float,
                    seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The pile's covariates beside the labelled pool's (reweighted to `pile_prior`, so a change of
    prevalence alone is not read as covariate shift) and the covariates that differ beyond
    threshold and chance (`triage_ray.data.representativeness`)."""
    from triage_ray.data.representativeness import pile_covariate_shift, split_representativeness

    # EM can run to the edge (a weak model on a small pile: 1.0 measured in a smoke run); the
    # reweighting needs a prior strictly inside (0, 1), and the estimate itself is reported as is
    prior = float(np.clip(pile_prior, 1e-3, 1 - 1e-3))
    report = split_representativeness(labelled, pile=pile, pile_prior=prior, seed=seed)
    return report["pile"], pile_covariate_shift(report)


def build_worklist(
    studies: pd.DataFrame, logits: pd.DataFrame, scored: ScoredConfig, held: HeldOutLogits,
    cfg: XrayConfig, labelled: pd.DataFrame | None = None, gate_reasons: pd.Series | None = None,
    labelled_in_scope: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Join logits to studies (1:1, checked), calibrate, estimate the pile prior, bucket, order.

    `labelled` (the labelled study table with its splits): when given, the pile's covariates are
    compared with it (with `labelled_in_scope`, the part of it inside the intended use, when a gate
    ran), and a covariate shift marks the prevalence estimate untrusted: EM and BBSE assume the
    pile differs from the labelled data by prevalence alone (label shift).
    `gate_reasons` (study_id -> why it is outside the intended use, "" when inside): those studies
    go to NOT_TRIAGED whatever their score, and the prevalence is estimated on the rest.
    """
    if logits["study_id"].duplicated().any():
        raise RuntimeError("batch inference returned a study twice")
    # arrival_index: the study's place in the pile as it came in. The simulation's no-model baseline
    # reads in that order; handing it the model's read order made the baseline equal the policy.
    arrived = studies[["study_id", "patient_id", "view"]].assign(arrival_index=np.arange(len(studies)))
    merged = arrived.merge(logits, on="study_id", how="inner")
    reasons = (pd.Series("", index=merged["study_id"]) if gate_reasons is None
               else gate_reasons.reindex(merged["study_id"].astype(str)).fillna(""))
    in_scope = (reasons == "").to_numpy()
    # A pile the gate refuses entirely (an export without ages, a paediatric pile) still finishes:
    # every study is NOT_TRIAGED, read as usual. The prevalence and covariate figures are then
    # made over the whole pile for the record, marked untrusted, and used for nothing.
    nothing_in_scope = not in_scope.any()
    basis = np.ones_like(in_scope) if nothing_in_scope else in_scope
    z = merged["logit"].to_numpy()
    p = scored.calibrator.predict_proba(z)
    calib_prior = float(held.label["calib"].mean())
    patients = None if labelled is None else labelled.set_index(
        labelled["study_id"].astype(str))["patient_id"].reindex(
        held.study_id["calib"].astype(str)).to_numpy()
    shift = estimate_pile_prior(z[basis], held, seed=cfg.seed, calib_patients=patients)
    lo, hi = shift["validated_range"]
    untrusted = [NOTHING_IN_SCOPE] if nothing_in_scope else []
    untrusted += [] if shift["in_validated_range"] else [
        f"an estimate's interval (EM or BBSE, or BBSE unavailable) leaves the validated range "
        f"{lo:.2f}-{hi:.2f}"]
    covariates, moved = None, []
    if labelled is not None:
        scope_ids = set(merged["study_id"][basis].astype(str))
        covariates, moved = pile_covariates(
            labelled if labelled_in_scope is None else labelled_in_scope,
            studies[studies["study_id"].astype(str).isin(scope_ids)],
            float(shift["em"]["value"]), cfg.seed)
        untrusted += [f"covariate shift: {m['reason']}" for m in moved]
    # Posteriors are re-expressed at the pile prior only when the estimate is trusted (inside the
    # validated range, no covariate shift); otherwise the calibrated p is kept and the run flagged.
    trusted = not untrusted
    pile_prior = float(np.clip(shift["em"]["value"], 1e-3, 1 - 1e-3)) if trusted else calib_prior
    p_adj = adjust_posteriors(p, calib_prior, pile_prior)
    # The bound is certified on the `select` reference set, so the deployment prior it is
    # re-certified for must be a prevalence in the reference's terms too. Behind a gate only the
    # in-scope part of it: the pile's cleared studies all come from inside the intended use.
    cert = scored.certification["select"]
    if labelled_in_scope is not None and cert.study_id is not None:
        cert = cert.restrict(set(labelled_in_scope["study_id"].astype(str)))
    ref_shift = shift if cert.label_source == WRITTEN else reference_prior(p[basis], cert, cfg.seed)
    deploy = conservative_deploy_prior(ref_shift, float(cert.y.mean()))
    policy = abstention_policy(cfg, deploy_prior=deploy).fit(cert.p, cert.y)
    bucket = policy.assign(p)  # thresholds apply to the calibrated score
    bucket[~in_scope] = Bucket.NOT_TRIAGED  # outside the intended use: never triaged, never cleared
    order = worklist_order(p_adj, bucket, cfg.uncertain_order)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    merged = merged.assign(
        p_calibrated=p, p_adjusted=p_adj, bucket=bucket.astype(np.int8),
        bucket_name=[BUCKET_NAMES[int(b)] for b in bucket], read_rank=rank,
        gate_reason=reasons.to_numpy(),
    ).sort_values("read_rank")
    info = {"prevalence": {**shift, "calib_prior": calib_prior, "used_prior": pile_prior,
                           "estimate_trusted": trusted, "untrusted_because": untrusted,
                           "deploy_prior_interval": list(deploy),
                           "reference": None if ref_shift is shift else {
                               k: ref_shift[k] for k in ("em", "bbse", "label_source",
                                                         "validated_range", "methods_agree")}},
            "covariates": covariates,
            "policy": {**policy.to_dict(), "certified_on": {
                "split": "select", "n": cert.n, "label_source": cert.label_source,
                "population": "in scope (intended-use gate)" if labelled_in_scope is not None
                else "all studies"}}}
    return merged, info


def score_pile(
    studies: pd.DataFrame, logits: pd.DataFrame, scored: ScoredConfig, held: HeldOutLogits,
    cfg: XrayConfig, out_dir: Path, *, truth: pd.Series | None = None,
    skipped: list[tuple[str, str]] = (), labelled: pd.DataFrame | None = None,
    not_studies: list[tuple[str, str]] = (), gate: tuple[pd.Series, dict[str, Any]] | None = None,
    labelled_in_scope: pd.DataFrame | None = None, provenance: dict[str, Any] | None = None,
) -> PileResult:
    """`truth` (study_id -> true abnormal) exists only for generated piles: used to count misses.
    `skipped`: studies ingest could not decode; `not_studies`: files the pile's source found but
    could not read as a study (a DICOM report, no pixel data): both counted in, named, never dropped.
    `gate`: (reasons, report) from `xray.gate.apply_gate`; `labelled`, `labelled_in_scope`: see
    `build_worklist`. `provenance` (`xray.provenance.Provenance.to_dict`) goes into the
    worklist's Parquet metadata, so the file says where its scores came from wherever it travels."""
    worklist, info = build_worklist(studies, logits, scored, held, cfg, labelled,
                                    gate_reasons=None if gate is None else gate[0],
                                    labelled_in_scope=labelled_in_scope)
    skipped = [*not_studies, *skipped]
    n_in, n_out = len(studies) + len(not_studies), len(worklist)
    if n_out + len(skipped) != n_in:
        raise RuntimeError(f"pile count mismatch: {n_in} in, {n_out} scored, {len(skipped)} skipped")
    path = out_dir / "worklist.parquet"
    write_parquet(worklist.drop(columns=[c for c in ("logit",) if c in worklist]), path, provenance)
    arrival = worklist.sort_values("arrival_index")  # the sim's FIFO baseline reads in this order
    is_abnormal = None
    if truth is not None:
        is_abnormal = arrival["study_id"].map(truth).to_numpy().astype(bool)
    sim = simulate_scores(
        arrival["p_adjusted"].to_numpy(), arrival["bucket"].to_numpy(), is_abnormal, cfg,
        feasible=bool(info["policy"]["feasible"]), seed=cfg.seed + 1,
    )
    counts = worklist["bucket_name"].value_counts().to_dict()
    summary = PileSummary(
        n_studies=n_in, n_scored=n_out, n_skipped=len(skipped),
        skipped=[{"path": p, "reason": r} for p, r in skipped], worklist=path.name,
        bucket_counts={name: int(counts.get(name, 0)) for name in BUCKET_NAMES.values()},
        truth_known=truth is not None, prevalence=info["prevalence"], covariates=info["covariates"],
        policy=info["policy"], simulation=sim, gate=None if gate is None else gate[1],
    )
    return PileResult(worklist, summary)
