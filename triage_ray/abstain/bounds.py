"""Exact binomial (Clopper-Pearson) bounds and the rate bounds the abstention rules test.

Each rate bound concerns "abnormal rate among the studies in a bucket" (below t_low, or at or
above t_high), from the bucket's n studies of which k are abnormal:
- `pooled`: the selection split has the deployment prevalence; the bound is the one-sided CP bound
  on k of n. Valid given n: the n studies below a fixed t are i.i.d. draws from the studies below t.
- `label_shift`: deployment prevalence pi' differs from the selection split's pi, the score
  distribution within each class does not (label shift). Then the deployed rate is a monotone map
  of the selection rate r:  h(r, pi) = r pi' (1 - pi) / (r pi' (1 - pi) + (1 - r)(1 - pi') pi)
  (Bayes' rule: the odds scale by (pi' / (1 - pi')) / (pi / (1 - pi))). The bound plugs in a CP
  bound on r at delta / 2 and the worst-case CP bound on pi (n_pos of the N selection studies) at
  delta / 2, so both hold together with probability >= 1 - delta. In effect the pooled rule runs
  at a stricter alpha when pi' > pi.
`level=None` gives the plug-in point estimate (no guarantee; used by the naive rule).
The one-sided CP bounds themselves are `triage_ray.common.stats.cp_upper` / `cp_lower`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage_ray.common.stats import cp_lower, cp_upper


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    out = np.full(np.shape(num), empty, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def shift_rate(r: np.ndarray, prior_from: np.ndarray | float, prior_to: float,
               empty: float) -> np.ndarray:
    """Bayes' rule: a bucket's abnormal rate r at prevalence prior_from, re-expressed at prior_to."""
    num = r * prior_to * (1.0 - prior_from)
    return _ratio(num, num + (1.0 - r) * (1.0 - prior_to) * prior_from, empty)


@dataclass(frozen=True)
class RateBound:
    """Bounds on a bucket's abnormal rate from selection counts.

    n_pos / n_neg: abnormal / normal studies in the whole selection split. prior: None for
    `pooled`, else the deployment prevalence pi' for `label_shift`.
    """

    n_pos: int
    n_neg: int
    prior: float | None = None

    def abnormal_upper(self, n: np.ndarray, k: np.ndarray, level: float | None) -> np.ndarray:
        """Upper bound on the abnormal rate of a bucket holding n studies, k of them abnormal."""
        n, k = np.asarray(n, dtype=np.float64), np.asarray(k, dtype=np.float64)
        if self.prior is None:
            return _ratio(k, n, 1.0) if level is None else cp_upper(k, n, level)
        total = self.n_pos + self.n_neg
        if level is None:
            return shift_rate(_ratio(k, n, 1.0), self.n_pos / total, self.prior, 1.0)
        # a lower selection prevalence makes the same bucket riskier at pi'
        pi_low = cp_lower(self.n_pos, total, level / 2)
        return shift_rate(cp_upper(k, n, level / 2), pi_low, self.prior, 1.0)

    def abnormal_lower(self, n: np.ndarray, k: np.ndarray, level: float | None) -> np.ndarray:
        """Lower bound on the abnormal rate (the PPV) of a bucket with n studies, k abnormal."""
        n, k = np.asarray(n, dtype=np.float64), np.asarray(k, dtype=np.float64)
        if self.prior is None:
            return _ratio(k, n, 0.0) if level is None else cp_lower(k, n, level)
        total = self.n_pos + self.n_neg
        if level is None:
            return shift_rate(_ratio(k, n, 0.0), self.n_pos / total, self.prior, 0.0)
        pi_high = cp_upper(self.n_pos, total, level / 2)
        return shift_rate(cp_lower(k, n, level / 2), pi_high, self.prior, 0.0)
