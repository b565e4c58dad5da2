"""Patient-level, deterministic, stratified random splits: no patient is ever in two splits.

Splits are exchangeable at the patient level: each patient is assigned at random, so every split is
a random sample of patients and its view mix, follow-up structure, age, sex and label prior match
the pool's within sampling error (`triage_ray.data.representativeness` checks that). The draw is
stratified so that chance imbalance stays small: patients are grouped into strata of

  label mix     share of the patient's labelled studies that are abnormal (0, <1/3, <2/3, <1, 1;
                patients with no labelled study form their own bin),
  series size   number of studies (1, 2, 3-4, 5-8, 9-16, 17-32, 33+),
  view mix      share of AP among the patient's studies of known view (0, <1/2, <1, 1; unknown
                when the table has no `view` column or the patient has no known view),

and every stratum is shared out over the splits in proportion to the fractions
(`stratified_allocation`). Patients are sorted by stratum and, inside one, by series size, dealt
round robin as scikit-learn's StratifiedKFold deals its class-sorted samples (generalised from k
equal folds to any fractions), and the deal is shuffled within blocks of ceil(1 / smallest
fraction) consecutive patients: permuted-block randomisation within strata. Each patient's split is
random; a stratum's count in each split is within a few patients of its share (whole blocks are
exact; a simple random draw is off by tens on a stratum of 500). Of DRAWS such
draws the one whose splits' study counts and abnormal rates are closest to target is kept
(rerandomisation on the stratification variables, Morgan & Rubin 2012), so that small tables do
not get a calib split of half its intended size.

An earlier version dealt patients largest-first to the split with the largest shortfall; that
balanced size and label prior exactly but sent long follow-up series (more often AP, sicker) to the
big splits and single-visit patients to calib/test.

Deterministic for (the set of rows, fractions, seed), whatever the row order. When the table
carries the source's own patient-level test list (NIH's test_list.txt, in `official_split`), those
patients go to "test" and the other fractions share the rest; the official list is honoured as it
is, even when it is unrepresentative (the representativeness report shows it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from triage_ray.data.schema import OFFICIAL_SPLIT

log = logging.getLogger(__name__)

OFFICIAL_TEST = "test"
SIZE_EDGES = (2, 3, 5, 9, 17, 33)  # series-size bins: 1, 2, 3-4, 5-8, 9-16, 17-32, 33+
LABEL_EDGES = (1 / 3, 2 / 3)  # inside (0, 1): abnormal share < 1/3, < 2/3, < 1
AP_EDGES = (0.5,)  # inside (0, 1): AP share < 1/2, < 1
UNKNOWN_BIN = 9  # label / view mix of a patient with no labelled study / no known view
# Stratified draws per call; the one with the best-balanced study counts and abnormal rates is
# kept (rerandomisation): on a few hundred studies one long series can otherwise swing a small
# split's size by half. On large tables every draw is balanced and the choice hardly matters.
DRAWS = 32
SPLIT_ORDER = ("train", "calib", "select", "test")  # the X-ray pipeline's splits


def patient_split(df: pd.DataFrame, fractions: Mapping[str, float], *, seed: int = 0,
                  use_official: bool = True) -> pd.Series:
    """Split name per row (index aligned with df), e.g. fractions={"train": .6, "calib": .1, ...}.

    The allocation depends on the order of the split names, so they are put in one canonical order
    first: a config saved with sorted keys and reloaded (`--resume`) must split exactly as the run
    it resumes did (measured before this: 238 of 1,200 smoke studies changed split on resume)."""
    fractions = canonical_order(fractions)
    names = _check_fractions(fractions)
    for col in ("patient_id", "label"):
        if col not in df.columns:
            raise ValueError(f"patient_split needs a {col!r} column; found {list(df.columns)}")
    if df.empty:
        return pd.Series([], index=df.index, dtype=object, name="split")
    patients = _patient_table(df)  # index: sorted patient ids
    assign = pd.Series("", index=patients.index, dtype=object)

    official = _official_test_patients(df, names) if use_official else None
    targets = {k: float(v) for k, v in fractions.items()}
    if official is not None:
        assign[official] = OFFICIAL_TEST
        targets.pop(OFFICIAL_TEST)
        total = sum(targets.values())
        targets = {k: v / total for k, v in targets.items()} if total > 0 else targets
    targets = {k: v for k, v in targets.items() if v > 0}  # a zero share never receives anyone
    if not targets:  # only the official test split has a share: everyone is test
        targets = {OFFICIAL_TEST: 1.0}
    rest = patients[(assign == "").to_numpy()]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4242]))
    # strata in order (series size, label mix, view mix), and the exact series size inside one:
    # one patient of the 33+ bin can hold 1-2% of all studies, so sizes are matched there too
    keys = [rest[c].to_numpy() for c in ("size_bin", "label_bin", "ap_bin")] + [-rest["n"].to_numpy()]
    shares = np.array(list(targets.values()))
    chosen = stratified_allocation(keys, shares, rng, draws=DRAWS,
                                   imbalance=lambda c: _imbalance(rest, c, shares))
    assign[rest.index] = np.array(list(targets), dtype=object)[chosen]
    out = df["patient_id"].astype(str).map(assign)
    out.name = "split"
    return out


def _imbalance(patients: pd.DataFrame, chosen: np.ndarray, shares: np.ndarray) -> float:
    """Worst split's relative error in study count, or standardised error in abnormal rate."""
    k = len(shares)
    n = np.bincount(chosen, weights=patients["n"].to_numpy(), minlength=k)
    lab = np.bincount(chosen, weights=patients["lab"].to_numpy(), minlength=k)
    abn = np.bincount(chosen, weights=patients["abn"].to_numpy(), minlength=k)
    share = shares / shares.sum()
    worst = float(np.max(np.abs(n / n.sum() - share) / share))
    p = abn.sum() / max(lab.sum(), 1)
    if 0 < p < 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            err = np.abs(abn / lab - p) / np.sqrt(p * (1 - p))
        worst = max(worst, float(np.nanmax(err, initial=0.0)))
    return worst


def patient_strata(df: pd.DataFrame) -> pd.Series:
    """Stratum label per patient (index: sorted patient ids as str), e.g. "n2|abn1|apu": series
    size bin, label-mix bin, view-mix bin ("u": no labelled study / no known view)."""
    return _patient_table(df)["stratum"]


def _patient_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per patient (sorted ids as str): studies `n`, abnormal and AP shares, and the stratum."""
    pid = df["patient_id"].astype(str).to_numpy()
    lab = df["label"].to_numpy()
    view = (df["view"].fillna("").astype(str).str.strip().str.upper().to_numpy()
            if "view" in df.columns else np.full(len(df), "", dtype=object))
    known = view != ""
    per = pd.DataFrame({"n": 1, "lab": lab >= 0, "abn": lab == 1, "known": known,
                        "ap": known & (view == "AP")}).groupby(pid, sort=True).sum()
    n = per["n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        abn_share = per["abn"].to_numpy() / per["lab"].to_numpy()
        ap_share = per["ap"].to_numpy() / per["known"].to_numpy()
    size_bin = np.searchsorted(SIZE_EDGES, n, side="right")
    label_bin = _share_bin(abn_share, LABEL_EDGES)
    ap_bin = _share_bin(ap_share, AP_EDGES)
    labels = [f"n{s}|abn{'u' if a == UNKNOWN_BIN else a}|ap{'u' if v == UNKNOWN_BIN else v}"
              for s, a, v in zip(size_bin, label_bin, ap_bin, strict=True)]
    return pd.DataFrame({"n": n, "lab": per["lab"].to_numpy(), "abn": per["abn"].to_numpy(),
                         "abn_share": abn_share, "ap_share": ap_share, "size_bin": size_bin,
                         "label_bin": label_bin, "ap_bin": ap_bin,
                         "stratum": np.array(labels, dtype=object)}, index=per.index)


def _share_bin(share: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """0 for exactly 0, 1.. for the bins inside (0, 1) cut at `edges`, the next for exactly 1;
    UNKNOWN_BIN for nan (nothing to take a share of)."""
    with np.errstate(invalid="ignore"):
        inner = 1 + np.searchsorted(edges, share, side="right")
        b = np.where(share <= 0, 0, np.where(share >= 1, len(edges) + 2, inner))
    return np.where(np.isnan(share), UNKNOWN_BIN, b).astype(np.int64)


def stratified_allocation(keys: Sequence[np.ndarray], shares: np.ndarray, rng: np.random.Generator,
                          *, draws: int = 1,
                          imbalance: Callable[[np.ndarray], float] | None = None) -> np.ndarray:
    """Split index per unit: random, stratified on `keys`, shared out in proportion to `shares`.

    Units are ordered by `keys` (primary first; ties at random), so that similar units sit
    together. The ordered sequence gets a proportional pattern of split labels by the
    largest-deficit rule (position r goes to the split with the largest shares[k] * (r + 1) -
    got[k], so over any run of positions each split is within about one unit of its share: the
    round robin StratifiedKFold deals over its class-sorted samples, for unequal shares), and the
    labels are then shuffled within consecutive blocks of ceil(1 / min(shares)) positions
    (permuted-block randomisation over similar units). Each unit's split is random, and every
    stratum, and every range of the keys within it, is shared out in proportion.

    draws > 1 with an `imbalance` (allocation -> score, lower is better) keeps the best of that
    many independent draws (rerandomisation, Morgan & Rubin 2012).
    """
    n = len(keys[0]) if len(keys) else 0
    if n == 0:
        return np.empty(0, dtype=np.int64)
    shares = np.asarray(shares, dtype=np.float64) / float(np.sum(shares))
    pattern = np.empty(n, dtype=np.int64)
    got = np.zeros(len(shares))
    for r in range(n):
        k = int(np.argmax(shares * (r + 1) - got))
        got[k] += 1
        pattern[r] = k
    block = np.arange(n) // max(1, int(np.ceil(1.0 / shares[shares > 0].min() - 1e-9)))
    sort_keys = list(reversed([np.asarray(k) for k in keys]))
    best, best_score = None, np.inf
    for _ in range(max(1, draws)):
        order = np.lexsort((rng.permutation(n), *sort_keys))
        chosen = np.empty(n, dtype=np.int64)
        chosen[order] = pattern[np.lexsort((rng.random(n), block))]  # shuffled within blocks
        if imbalance is None:
            return chosen
        score = float(imbalance(chosen))
        if best is None or score < best_score:
            best, best_score = chosen, score
    return best


def canonical_order(fractions: Mapping[str, float]) -> dict[str, float]:
    """`fractions` with the pipeline's split names first, in pipeline order, then any others
    sorted: the same split for the same shares, however the mapping was built."""
    known = [k for k in SPLIT_ORDER if k in fractions]
    return {k: fractions[k] for k in known + sorted(set(fractions) - set(known))}


def _check_fractions(fractions: Mapping[str, float]) -> list[str]:
    if not fractions:
        raise ValueError("fractions must name at least one split")
    bad = {k: v for k, v in fractions.items() if not (isinstance(v, int | float) and v >= 0)}
    if bad or any(not str(k) for k in fractions):
        raise ValueError(f"fractions must be non-negative numbers with non-empty names: {bad or fractions}")
    total = float(sum(fractions.values()))
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {total} from {dict(fractions)}")
    return list(fractions)


def _official_test_patients(df: pd.DataFrame, names: list[str]) -> pd.Index | None:
    """Patients with any row on the source's official test list (None when there is none)."""
    if OFFICIAL_SPLIT not in df.columns:
        return None
    is_test = df[OFFICIAL_SPLIT].astype(str).eq(OFFICIAL_TEST)
    if not is_test.any():
        return None
    if OFFICIAL_TEST not in names:
        log.warning("official test list present but no %r split requested; ignoring it", OFFICIAL_TEST)
        return None
    pids = df["patient_id"].astype(str)
    test_patients = pd.Index(pids[is_test].unique())
    moved = int((pids.isin(test_patients) & ~is_test).sum())
    if moved:
        log.warning("%d rows not on the official test list belong to test patients; they go to "
                    "test too (a patient never spans two splits)", moved)
    return test_patients
