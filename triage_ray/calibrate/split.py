"""Split the calibration data into a calibrator-fitting part and a threshold-selection part.

We use a split, not cross-fitting. The finite-sample guarantee on the auto-normal bucket (see
`triage_ray.abstain`) needs the selection studies to be scored by exactly the function that will be
deployed, fitted without them. With cross-fitting each fold is scored by a different calibrator,
none of which is the deployed one, and the bound no longer applies to what ships. The cost is
fewer studies for each step; temperature/Platt scaling have one or two parameters and need few.
Grouping by patient keeps one patient's studies on one side, as the training splits do.
"""

from __future__ import annotations

import numpy as np

SELECT_FRACTION = 0.5  # share of calibration studies kept for threshold selection (the bound)


def calibration_split(n: int, *, select_fraction: float = SELECT_FRACTION,
                      groups: object = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (fit_idx, select_idx): disjoint, sorted row indices covering range(n).

    With `groups` (e.g. patient ids, shape (n,)) whole groups go to one side, so the selection
    share is approximate.
    """
    if not 0.0 < select_fraction < 1.0:
        raise ValueError(f"select_fraction must be in (0, 1), got {select_fraction}")
    if n < 2:
        raise ValueError(f"n: need at least 2 rows to split, got {n}")
    rng = np.random.default_rng(seed)
    if groups is None:
        perm = rng.permutation(n)
        n_sel = min(max(int(round(select_fraction * n)), 1), n - 1)
        return np.sort(perm[n_sel:]), np.sort(perm[:n_sel])
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups: expected shape ({n},), got {g.shape}")
    uniq, gid = np.unique(g, return_inverse=True)
    if uniq.size < 2:
        raise ValueError("groups: need at least 2 distinct groups to split")
    perm = rng.permutation(uniq.size)
    sizes = np.bincount(gid, minlength=uniq.size)[perm]
    # take whole groups in random order until the selection share is reached
    n_groups_sel = int(np.searchsorted(np.cumsum(sizes), select_fraction * n)) + 1
    n_groups_sel = min(max(n_groups_sel, 1), uniq.size - 1)
    is_sel = np.zeros(uniq.size, dtype=bool)
    is_sel[perm[:n_groups_sel]] = True
    sel = is_sel[gid]
    return np.flatnonzero(~sel), np.flatnonzero(sel)
