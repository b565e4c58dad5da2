"""Are the splits (and the unlabeled pile) like the labelled pool? Covariates, SMDs, a pass/fail.

`split_representativeness` reports per split: studies, patients, images per patient, AP share,
female share, mean age, written prior (label == 1 among labelled studies) and, when a truth is
given, the true prior; and per covariate the standardised mean difference against the pooled
labelled data,

    SMD = (mean_split - mean_pool) / sqrt((var_split + var_pool) / 2)

(binary covariates: var = p (1 - p); images per patient is a patient-level covariate, the others
are study-level). A covariate is flagged only when |SMD| > threshold (0.1 by default) AND |SMD|
exceeds its sampling error, because small splits exceed 0.1 by chance alone (patients' series are
clustered: one patient can hold 1-2% of a small set's studies). For the splits, chance is
`n_perm` random re-assignments of patients to splits with the same patient counts (what a purely
random patient split would show); a cell's sampling error is crit x its SMD's standard deviation
under chance, with crit the `level` (95%) quantile over re-assignments of the largest
|SMD| / sd across all splits and covariates (a max-statistic, family-wise bound: a random split
fails the check with probability <= 1 - level however many cells there are; a per-cell 95%
quantile would fail a random split most of the time). `p_value` is the matching family-wise
permutation p-value. A split passes when nothing in it is flagged; the report passes when every
split does.

With a `pile` (an unlabeled study table), its covariates are shown beside the splits with SMDs
against the labelled pool (or, given `pile_prior`, against the pool reweighted by written label to
that prevalence: what a pure label shift would give the pile, so that a prevalence change alone is
not read as covariate shift; images per patient is not reweighted). The pile's sampling error is
the same family-wise bound over its covariates, with chance = `n_perm` patient-level bootstrap
resamples of pool and pile (spread of SMD* - SMD). `pile_covariate_shift` lists the pile's flagged
covariates and why.

Age and sex are not in the study table (`schema.STUDY_COLUMNS`): give `age` (years) and `sex`
("F"/"M") columns, e.g. with `add_nih_demographics`; covariates without data are reported as None.
The output is plain, strict-JSON-able values (NaN/inf become None).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.common.stats import bootstrap_weights
from triage_ray.common.strict_json import finite

DEFAULT_THRESHOLD = 0.1
COVARIATES = ("images_per_patient", "ap_share", "female_share", "mean_age", "written_prior",
              "truth_prior")
PILE_COVARIATES = ("images_per_patient", "ap_share", "female_share", "mean_age")  # X-side only
TRUTH_COLUMN = "true_abnormal"
# per patient: (numerator, denominator, sum of squares or None) columns of the sums matrix
_F = ("n", "one", "n_sq", "known", "ap", "sexed", "female", "aged", "age", "age_sq", "labelled",
      "abn", "truthed", "true")
_COV = {  # covariate -> (sum column, count column, sum-of-squares column or None: binary)
    "images_per_patient": ("n", "one", "n_sq"),
    "ap_share": ("ap", "known", None),
    "female_share": ("female", "sexed", None),
    "mean_age": ("age", "aged", "age_sq"),
    "written_prior": ("abn", "labelled", None),
    "truth_prior": ("true", "truthed", None),
}
_J = {name: j for j, name in enumerate(_F)}
RULE = ("flag a covariate when |SMD| > threshold and |SMD| > its sampling error. Sampling error = "
        "crit x the SMD's spread (sd) under chance, crit = the {level:.0%} quantile of the largest "
        "|SMD| / sd over all cells (family-wise: a random split is flagged anywhere with "
        "probability <= {alpha:.0%}). Splits: chance = {n_perm} random re-assignments of patients "
        "to splits with the same patient counts; pile: {n_perm} patient-level bootstrap resamples "
        "of pool and pile (spread of SMD* - SMD)")
SMD_FORMULA = ("(mean_group - mean_reference) / sqrt((var_group + var_reference) / 2); binary: "
               "var = p(1-p); images_per_patient per patient, other covariates per study")


def split_representativeness(
    studies: pd.DataFrame, split_col: str = "split", pile: pd.DataFrame | None = None,
    truth: pd.Series | None = None, threshold: float = DEFAULT_THRESHOLD, *,
    pile_truth: pd.Series | None = None, pile_prior: float | None = None, n_perm: int = 200,
    level: float = 0.95, seed: int = 0,
) -> dict[str, Any]:
    """Per-split covariates and SMDs vs the labelled pool, flagged beyond threshold and chance.

    studies: the labelled study table with `patient_id`, `label`, `split_col` (rows with no split
    are left out), and optionally `view`, `age`, `sex`, `true_abnormal`. truth / pile_truth:
    study_id -> true abnormal (0/1 or bool), e.g. the generator's ground_truth.csv; they take
    precedence over a `true_abnormal` column. pile: an unlabeled study table (same columns, labels
    may be -1). pile_prior: the pile's estimated written-label prevalence, to compare the pile
    with the pool reweighted to it (see the module docstring).

    Returns (plain values; NaN/inf as None) {"threshold", "rule", "smd_formula", "level",
    "n_perm", "seed", "covariates": [the covariates with data], "pool": {<sizes and covariates>},
    "splits": {name: {<sizes and covariates>, "smd": {covariate: {"smd", "sampling_error",
    "p_value", "flagged"}}, "flagged": [covariate], "passed"}}, "flagged": [{"split",
    "covariate", "smd", "sampling_error", "value", "pool"}], "passed", "pile": None or
    {<sizes and covariates>, "reference", "reference_values": {covariate: value},
    "smd": {covariate: {"smd", "sampling_error", "flagged"}}, "flagged", "passed"}}, where
    <sizes and covariates> = "studies", "patients", "images_per_patient", "ap_share",
    "female_share", "mean_age", "written_prior", "truth_prior" (None where there is no data).
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if not 0 < level < 1 or n_perm < 1:
        raise ValueError(f"need 0 < level < 1 and n_perm >= 1, got {level}, {n_perm}")
    for col in ("patient_id", "label", split_col):
        if col not in studies.columns:
            raise ValueError(f"split_representativeness needs a {col!r} column")
    rows = studies[studies[split_col].notna() & studies[split_col].astype(str).ne("")]
    if rows.empty:
        raise ValueError("no study has a split")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    sums, split_of = _patient_sums(rows, truth, split_col)
    pool = sums.sum(0)
    covariates = [c for c in COVARIATES if pool[_J[_COV[c][1]]] > 0]
    names = sorted(set(split_of))
    code = np.searchsorted(names, split_of)
    groups = _group_sums(sums, code, len(names))  # (K, F)
    obs = _smd(groups, pool, covariates)  # (K, C)
    null = np.empty((n_perm, *obs.shape))
    for b in range(n_perm):
        null[b] = _smd(_group_sums(sums, rng.permutation(code), len(names)), pool, covariates)
    bound, p_value = _familywise(obs, null, level)

    out: dict[str, Any] = {
        "threshold": float(threshold), "rule": RULE.format(level=level, n_perm=n_perm, alpha=1 - level),
        "smd_formula": SMD_FORMULA, "level": float(level), "n_perm": int(n_perm), "seed": int(seed),
        "covariates": covariates, "pool": _describe(pool), "splits": {},
        "flagged": [],
    }
    for k, name in enumerate(names):
        smd = {}
        for c, cov in enumerate(covariates):
            s, e = obs[k, c], bound[k, c]
            flag = _beyond(s, e, threshold)
            smd[cov] = {"smd": float(s), "sampling_error": float(e), "p_value": float(p_value[k, c]),
                        "flagged": flag}
        desc = _describe(groups[k])
        flagged = [cov for cov, v in smd.items() if v["flagged"]]
        out["splits"][str(name)] = {**desc, "smd": smd, "flagged": flagged, "passed": not flagged}
        out["flagged"] += [{"split": str(name), "covariate": cov, "smd": smd[cov]["smd"],
                            "sampling_error": smd[cov]["sampling_error"], "value": desc[cov],
                            "pool": out["pool"][cov]} for cov in flagged]
    out["passed"] = not out["flagged"]
    out["pile"] = (None if pile is None else
                   _pile_report(rows, truth, pile, pile_truth, pile_prior, threshold, n_perm, level,
                                rng, split_col))
    return finite(out)


def pile_covariate_shift(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Covariates on which the pile differs from the labelled data beyond threshold and chance.

    `report` is `split_representativeness(..., pile=...)`'s output. Empty list: no shift found.
    Each entry: {"covariate", "pile", "labelled", "smd", "threshold", "sampling_error", "reason"}.
    """
    pile = report.get("pile")
    if pile is None:
        raise ValueError("the report has no pile: pass pile= to split_representativeness")
    out = []
    for cov in pile["flagged"]:
        s = pile["smd"][cov]
        out.append({
            "covariate": cov, "pile": pile[cov], "labelled": pile["reference_values"][cov],
            "smd": s["smd"], "threshold": report["threshold"], "sampling_error": s["sampling_error"],
            "reason": (f"{cov}: pile {_fmt(pile[cov])} vs {pile['reference']} "
                       f"{_fmt(pile['reference_values'][cov])}, |SMD| {abs(s['smd']):.3f} > "
                       f"threshold {report['threshold']:g} and > sampling error "
                       f"{s['sampling_error']:.3f}"),
        })
    return out


def add_nih_demographics(studies: pd.DataFrame, root: str | os.PathLike) -> pd.DataFrame:
    """`studies` with `age` (years) and `sex` ("F"/"M") from an NIH-layout root's label file.

    Matched on study_id (Image Index without ".png", as `load_nih` builds it); unmatched rows get
    NaN / "". A copy; the input is not changed.
    """
    from triage_ray.data.nih import find_label_file

    csv = find_label_file(Path(root))
    t = pd.read_csv(csv, usecols=["Image Index", "Patient Age", "Patient Gender"],
                    dtype={"Image Index": str, "Patient Gender": str}, keep_default_na=False)
    ids = t["Image Index"].str.removesuffix(".png")
    age = pd.Series(pd.to_numeric(t["Patient Age"], errors="coerce").to_numpy(), index=ids)
    sex = pd.Series(t["Patient Gender"].str.strip().str.upper().to_numpy(), index=ids)
    out = studies.copy()
    sid = out["study_id"].astype(str)
    out["age"] = sid.map(age).astype(float)
    out["sex"] = sid.map(sex).fillna("")
    return out


def _beyond(smd: float, error: float, threshold: float) -> bool:
    """|SMD| beyond the threshold and the sampling error. An infinite SMD (a covariate constant in
    both groups, at different values) always is, a missing one never; where the sampling error
    could not be estimated the threshold alone decides (a safety flag errs toward raising)."""
    if np.isnan(smd):
        return False
    return bool(abs(smd) > threshold and (np.isinf(smd) or not abs(smd) <= error))


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _truth_values(df: pd.DataFrame, truth: pd.Series | None) -> np.ndarray:
    """True abnormal per row as float, nan where unknown."""
    if truth is not None:
        t = pd.Series(truth)
        t.index = t.index.astype(str)
        return pd.to_numeric(df["study_id"].astype(str).map(t), errors="coerce").astype(float).to_numpy()
    if TRUTH_COLUMN in df.columns:
        return pd.to_numeric(df[TRUTH_COLUMN], errors="coerce").astype(float).to_numpy()
    return np.full(len(df), np.nan)


def _study_values(df: pd.DataFrame, truth: pd.Series | None) -> pd.DataFrame:
    """Per study: the indicator and value columns that `_patient_sums` adds up."""
    n = len(df)
    view = (df["view"].fillna("").astype(str).str.strip().str.upper()
            if "view" in df.columns else pd.Series("", index=df.index))
    sex = (df["sex"].fillna("").astype(str).str.strip().str.upper()
           if "sex" in df.columns else pd.Series("", index=df.index))
    age = (pd.to_numeric(df["age"], errors="coerce").astype(float).to_numpy()
           if "age" in df.columns else np.full(n, np.nan))
    lab = pd.to_numeric(df["label"], errors="coerce").fillna(-1).to_numpy()
    tru = _truth_values(df, truth)
    aged = np.isfinite(age)
    truthed = np.isfinite(tru)
    return pd.DataFrame({
        "n": 1.0, "known": (view != "").to_numpy(float), "ap": (view == "AP").to_numpy(float),
        "sexed": sex.isin(["F", "M"]).to_numpy(float), "female": (sex == "F").to_numpy(float),
        "aged": aged.astype(float), "age": np.where(aged, age, 0.0),
        "age_sq": np.where(aged, age, 0.0) ** 2, "labelled": (lab >= 0).astype(float),
        "abn": (lab == 1).astype(float), "truthed": truthed.astype(float),
        "true": np.where(truthed, tru, 0.0) > 0.5,
    }, index=df.index).astype(float)


def _patient_sums(df: pd.DataFrame, truth: pd.Series | None, split_col: str | None,
                  weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(P, F) per-patient sums in `_F` order (study columns optionally weighted), and each
    patient's split (one per patient: a patient in two splits is an error)."""
    v = _study_values(df, truth)
    if weight is not None:
        v = v.mul(weight, axis=0)  # "n" stays unweighted below: images per patient is per patient
    pid = df["patient_id"].astype(str).to_numpy()
    per = v.groupby(pid, sort=True).sum()
    n = df.groupby(pid, sort=True).size().to_numpy(float)
    per["n"] = n
    per["one"] = 1.0
    per["n_sq"] = n ** 2
    split = None
    if split_col is not None:
        s = df[split_col].astype(str).groupby(pid, sort=True)
        if (s.nunique() > 1).any():
            raise ValueError("a patient is in more than one split")
        split = s.first().to_numpy()
    return per[list(_F)].to_numpy(np.float64), split


def _familywise(obs: np.ndarray, null: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Sampling error per cell, and family-wise p-values, from null draws (n, K, C) of obs (K, C).

    Each cell's null spread is its standard deviation over the draws; the critical multiple is the
    `level` quantile over draws of the largest |null| / sd across all cells (max-statistic,
    Westfall-Young), so a random split exceeds `crit * sd` anywhere with probability 1 - level.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.nanstd(np.where(np.isfinite(null), null, np.nan), axis=0)  # (K, C)
        z = np.abs(null) / sd[None]
        z = np.where(np.isfinite(z), z, 0.0)  # a cell with no spread never drives the maximum
        top = z.reshape(len(null), -1).max(1) if z.size else np.zeros(len(null))
        crit = float(np.quantile(top, level)) if len(top) else 0.0
        z_obs = np.abs(obs) / sd
        p = (1 + (top[:, None, None] >= z_obs[None] - 1e-12).sum(0)) / (1 + len(null))
    return np.where(np.isfinite(sd), crit * sd, np.nan), np.where(np.isfinite(z_obs), p, np.nan)


def _group_sums(sums: np.ndarray, code: np.ndarray, k: int) -> np.ndarray:
    onehot = np.zeros((len(code), k))
    onehot[np.arange(len(code)), code] = 1.0
    return onehot.T @ sums


def _moments(g: np.ndarray, cov: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a covariate from sums (..., F)."""
    num, den, sq = _COV[cov]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = g[..., _J[num]] / g[..., _J[den]]
        var = m * (1 - m) if sq is None else g[..., _J[sq]] / g[..., _J[den]] - m ** 2
    return m, np.maximum(var, 0.0)


def _smd(groups: np.ndarray, ref: np.ndarray, covariates: list[str]) -> np.ndarray:
    """SMD of each group (rows of `groups`) vs `ref`, per covariate: (K, C)."""
    out = np.empty((groups.shape[0], len(covariates)))
    for c, cov in enumerate(covariates):
        m, v = _moments(groups, cov)
        m0, v0 = _moments(ref, cov)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (m - m0) / np.sqrt((v + v0) / 2)
            d = np.where((v + v0) == 0, np.where(m == m0, 0.0, np.inf * np.sign(m - m0)), d)
        out[:, c] = d
    return out


def _describe(g: np.ndarray) -> dict[str, Any]:
    """Sizes and every covariate's mean from sums (F,); None where there is nothing to average."""
    d: dict[str, Any] = {"studies": int(round(g[_J["n"]])), "patients": int(round(g[_J["one"]]))}
    for cov in COVARIATES:
        d[cov] = float(_moments(g, cov)[0]) if g[_J[_COV[cov][1]]] > 0 else None
    return d


def _pile_report(rows: pd.DataFrame, truth: pd.Series | None, pile: pd.DataFrame,
                 pile_truth: pd.Series | None, pile_prior: float | None, threshold: float,
                 n_perm: int, level: float, rng: np.random.Generator,
                 split_col: str) -> dict[str, Any]:
    for col in ("patient_id", "study_id") if pile_truth is not None else ("patient_id",):
        if col not in pile.columns:
            raise ValueError(f"the pile needs a {col!r} column")
    pile = pile.assign(label=pile["label"] if "label" in pile.columns else -1)
    pile_sums, _ = _patient_sums(pile, pile_truth, None)
    weight, reference = None, "labelled pool"
    if pile_prior is not None:
        if not 0 < pile_prior < 1:
            raise ValueError(f"pile_prior must lie in (0, 1), got {pile_prior}")
        lab = pd.to_numeric(rows["label"], errors="coerce").fillna(-1).to_numpy()
        pi = float((lab == 1).sum() / max((lab >= 0).sum(), 1))
        if not 0 < pi < 1:
            raise ValueError("reweighting to pile_prior needs both classes in the labelled pool")
        weight = np.where(lab == 1, pile_prior / pi, np.where(lab == 0, (1 - pile_prior) / (1 - pi), 1.0))
        reference = f"labelled pool reweighted to written prior {pile_prior:.3f}"
    pool_sums, _ = _patient_sums(rows, truth, None, weight)
    pool, tot = pool_sums.sum(0), pile_sums.sum(0)
    covariates = [c for c in PILE_COVARIATES if pool[_J[_COV[c][1]]] > 0 and tot[_J[_COV[c][1]]] > 0]
    obs = _smd(tot[None], pool, covariates)[0]
    boot = np.empty((n_perm, len(covariates)))
    pairs = zip(bootstrap_weights(len(pool_sums), n_perm, rng),
                bootstrap_weights(len(pile_sums), n_perm, rng), strict=True)
    for b, (wp, wq) in enumerate(pairs):  # rows are patients: a patient-level bootstrap
        boot[b] = _smd((wq @ pile_sums)[None], wp @ pool_sums, covariates)[0]
    bound, _ = _familywise(obs[None], (boot - obs[None])[:, None, :], level)
    bound = bound[0]
    smd = {}
    for c, cov in enumerate(covariates):
        s, e = obs[c], bound[c]
        smd[cov] = {"smd": float(s), "sampling_error": float(e), "flagged": _beyond(s, e, threshold)}
    flagged = [cov for cov, v in smd.items() if v["flagged"]]
    ref_desc = _describe(pool)
    return {**_describe(tot), "reference": reference,
            "reference_values": {c: ref_desc[c] for c in PILE_COVARIATES},
            "smd": smd, "flagged": flagged, "passed": not flagged}
