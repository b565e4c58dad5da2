"""Patient-level, deterministic, label-stratified splits: no patient is ever in two splits.

Patients are dealt largest-first to whichever split is furthest below its target share of the
kinds of studies that patient has (abnormal / normal / unlabelled), which balances split sizes and
label mix together. Ties are broken by a seeded shuffle of sorted patient ids, so the result
depends only on (the set of rows, fractions, seed), not on row order.

When the table carries the source's own patient-level test list (NIH's test_list.txt, in
`official_split`), those patients go to "test" and the other fractions share the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from triage_ray.data.schema import OFFICIAL_SPLIT

log = logging.getLogger(__name__)

OFFICIAL_TEST = "test"


def patient_split(df: pd.DataFrame, fractions: Mapping[str, float], *, seed: int = 0,
                  use_official: bool = True) -> pd.Series:
    """Split name per row (index aligned with df), e.g. fractions={"train": .6, "calib": .1, ...}."""
    names = _check_fractions(fractions)
    for col in ("patient_id", "label"):
        if col not in df.columns:
            raise ValueError(f"patient_split needs a {col!r} column; found {list(df.columns)}")
    if df.empty:
        return pd.Series([], index=df.index, dtype=object, name="split")
    pid = df["patient_id"].astype(str)
    lab = df["label"].to_numpy()
    counts = pd.DataFrame({"abn": lab == 1, "norm": lab == 0, "unk": lab < 0}).groupby(
        pid.to_numpy(), sort=True).sum()  # (patients, 3): studies of each kind
    assign = pd.Series("", index=counts.index, dtype=object)

    official = _official_test_patients(df, names) if use_official else None
    targets = {k: float(v) for k, v in fractions.items()}
    if official is not None:
        assign[official] = OFFICIAL_TEST
        targets.pop(OFFICIAL_TEST)
        total = sum(targets.values())
        targets = {k: v / total for k, v in targets.items()} if total > 0 else targets
    targets = {k: v for k, v in targets.items() if v > 0}  # a zero share never receives anyone
    rest = counts[(assign == "").to_numpy()]
    c = rest.to_numpy(dtype=np.float64)  # (P, 3)

    # deal patients largest-first (seeded shuffle among equals) to the split whose shortfall,
    # in this patient's kinds of studies, is largest: balances both size and label mix
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4242]))
    shuffled = rng.permutation(len(rest))  # over sorted ids: independent of row order
    order = shuffled[np.argsort(-c[shuffled].sum(1), kind="stable")]
    share = np.array(list(targets.values()))[:, None]  # (K, 1)
    need = share * c.sum(0)[None, :]  # (K, 3) target studies of each kind per split
    got = np.zeros_like(need)
    chosen = np.empty(len(rest), dtype=np.int64)
    for i in order:
        k = int(np.argmax((need - got) @ c[i]))
        got[k] += c[i]
        chosen[i] = k
    assign[rest.index] = np.array(list(targets), dtype=object)[chosen]
    out = df["patient_id"].astype(str).map(assign)
    out.name = "split"
    return out


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
