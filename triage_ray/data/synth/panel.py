"""A simulated radiologist adjudication panel: the reference standard of a generated set.

Deployments certify the auto-normal bound against a radiologist reference standard, not against
NIH-style written labels. The generator therefore also draws what a panel of `n_readers`
radiologists would call each study, from the study's *true* findings and their conspicuity
(ground_truth.csv), and writes the reads and their majority to reference.csv. Nothing here looks
at an image or a model: the panel is a statistical model of readers, seeded, on its own random
streams, so a seed's images and written labels are the same with or without it.

Reader model (every reader alike, readers independent given the study):
- a truly abnormal study is called abnormal when the reader detects at least one of its findings;
  finding f with conspicuity c is detected with probability
      p_f(c) = sigmoid(a_f + b * c + s * u),
  b the conspicuity slope (shared by all findings), a_f a per-finding intercept, u ~ N(0, 1) a
  per-study term shared by the panel's readers and s = `study_sd` (0 by default, see below);
- a truly normal study is called abnormal (a false positive) with probability
  sigmoid(a_fp + s * u), a_fp set so the average is `false_positive_rate`;
- the reference label is the majority of the `n_readers` (odd) reads.

Calibration. a_f is solved numerically (brentq) so that p_f averaged over the generator's own
conspicuity distribution for finding f at difficulty 1 (and over u) equals the published
per-finding sensitivity `FINDING_SENSITIVITY[f]`. That distribution is a mixture: Beta(3, 2)
clipped to [0.02, 1] for findings NIH's label names, and the same scaled by
HIDDEN_CONSPICUITY_SCALE for findings it missed (metadata.py); the mixture weight (the hidden
share per finding) is computed exactly from NIH's table and the Google panel rates the generator
uses (`hidden_share`). So at difficulty 1 an average reader finds each finding type as often as
the cited study; at higher difficulty (subtler findings) less often, and the subtle findings the
NIH reports left out are the ones readers miss most. b is fitted (least squares) to the one
size-graded figure we have: pleural effusion detected on 53% / 71% / 92% of small / moderate /
large effusions (Kitazono et al.), taking small / moderate / large as the conspicuity tertiles
(the effusion renderer's fluid height grows linearly with c).

Correlation. Given the study the readers are independent, but they all see the same conspicuity,
so marginally they miss the same subtle findings: the majority gains less than the
independent-reader arithmetic 3p^2 - 2p^3 applied to the marginal per-reader rate. Correlated
errors beyond that (a study that fools every reader) would shrink the gain further; `study_sd`
> 0 adds such a shared per-study term (its variance is integrated into the calibration, so the
per-reader rates stay at the cited figures while the majority's gain shrinks). Default 0: no
figure sizes it. Robinson et al.'s 11-19% pairwise disagreement is reported next to the
simulated one in generated_set.json as a sanity check, not fitted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from triage_ray.common.stats import clopper_pearson
from triage_ray.data.reference import PANEL_TO_NIH, nih_class_weights, nih_table, panel_rates
from triage_ray.data.schema import GENERATED_FINDINGS, NO_FINDING
from triage_ray.data.synth.metadata import (
    CONSPICUITY_A,
    CONSPICUITY_B,
    HIDDEN_CONSPICUITY_SCALE,
    MIN_CONSPICUITY,
)

REFERENCE_CSV = "reference.csv"
# reference.csv: these columns, then reader_1 .. reader_k (each reader's 0/1 read)
REFERENCE_COLUMNS: tuple[str, ...] = (
    "Image Index", "study_id", "reference_label", "n_readers", "votes_abnormal",
)
PANEL_STREAM = 23  # SeedSequence([seed, PANEL_STREAM, j]): j = 0 shared term, j = 1..k reader j
DEFAULT_READERS = 3

# ---------------------------------------------------------------------------- published figures
# Sensitivity = fraction of true findings of that type one radiologist calls, in [0, 1].
# Hong et al., Radiology 2025: 5 radiologists vs a 3-radiologist consensus, 258 images; each
# figure's specificity in the comment (per finding, not used: see FALSE_POSITIVE_RATE).
HONG_PNEUMOTHORAX = 0.89  # specificity 0.98
HONG_CONSOLIDATION = 0.57  # specificity 0.93
HONG_FRACTURE = 0.69  # specificity 0.99
HONG_ATELECTASIS = 0.61  # specificity 0.92
HONG_EDEMA = 0.68  # specificity 0.93
HONG_MEDIASTINUM = 0.84  # "widened mediastinum incl. cardiomegaly"; specificity 0.85
# Nodules of mean diameter 15 mm: 64-66% detected (Woodard et al. 1998; journal unverified). The
# generator's nodules are 10-23 mm across (radius 0.025-0.055 of a ~42 cm half-field), mean ~17 mm.
NODULE_15MM = 0.65
# Lung cancer missed on chest radiographs: 19% (Quekel et al., Chest 1999; detected median 40 mm).
# Used for masses (> 3 cm): conservative, as Quekel's misses were mostly smaller (median 16 mm).
LUNG_CANCER = 1.0 - 0.19
# Effusion on bedside films, small / moderate / large: 53% / 71% / 92% detected, specificity 89%
# (Kitazono et al., AJR; year unverified). Sets the conspicuity slope; its mean is effusion's
# sensitivity (equal thirds).
EFFUSION_BY_SIZE = (0.53, 0.71, 0.92)
EFFUSION = float(np.mean(EFFUSION_BY_SIZE))
# No reader-study figure for emphysema, fibrosis, pleural thickening or hernia in our notes: our
# assumption is the median of Hong et al.'s six per-finding sensitivities.
UNSOURCED = float(np.median([HONG_PNEUMOTHORAX, HONG_CONSOLIDATION, HONG_FRACTURE,
                             HONG_ATELECTASIS, HONG_EDEMA, HONG_MEDIASTINUM]))
# Study-level false-positive rate of one reader on a truly normal study: 1 - 0.936, the
# specificity of clinical reports for "referable abnormality" against a 7-thoracic-radiologist
# panel (Hwang et al., Radiology 2025; 1,539 patients). Per-finding specificities (Hong) are not
# compounded: they were measured on an enriched set, among images with other findings.
FALSE_POSITIVE_RATE = 0.064  # = 1 - 0.936
# Pairs of readers disagree on "significantly abnormal" on 11-19% of studies (Robinson et al.,
# BJR 1999; 100 emergency films, 3 consultants): a comparison, not a parameter.
ROBINSON_PAIR_DISAGREEMENT = (0.11, 0.19)

# Each generator finding -> (sensitivity, source). Assumptions are marked as such.
FINDING_SENSITIVITY: dict[str, tuple[float, str]] = {
    "Pneumothorax": (HONG_PNEUMOTHORAX, "Hong et al. 2025, pneumothorax"),
    "Consolidation": (HONG_CONSOLIDATION, "Hong et al. 2025, consolidation"),
    "Pneumonia": (HONG_CONSOLIDATION, "assumed = consolidation (Hong et al. 2025): a consolidation pattern"),
    "Infiltration": (HONG_CONSOLIDATION, "assumed = consolidation (Hong et al. 2025): an airspace opacity"),
    "Fracture": (HONG_FRACTURE, "Hong et al. 2025, fracture"),
    "Atelectasis": (HONG_ATELECTASIS, "Hong et al. 2025, atelectasis"),
    "Edema": (HONG_EDEMA, "Hong et al. 2025, edema"),
    "Cardiomegaly": (HONG_MEDIASTINUM, "Hong et al. 2025, widened mediastinum incl. cardiomegaly"),
    "Nodule": (NODULE_15MM, "Woodard et al. 1998 (unverified journal), nodules of mean 15 mm"),
    "Mass": (LUNG_CANCER, "Quekel et al. 1999, 19% of lung cancers missed"),
    "Effusion": (EFFUSION, "Kitazono et al. (AJR, year unverified), mean of small/moderate/large"),
    "Emphysema": (UNSOURCED, "assumption: median of Hong et al. 2025's six findings"),
    "Fibrosis": (UNSOURCED, "assumption: median of Hong et al. 2025's six findings"),
    "Pleural_Thickening": (UNSOURCED, "assumption: median of Hong et al. 2025's six findings"),
    "Hernia": (UNSOURCED, "assumption: median of Hong et al. 2025's six findings"),
}
assert set(FINDING_SENSITIVITY) == set(GENERATED_FINDINGS), "every generated finding needs a reader"

_GRID = 4000  # conspicuity quantile midpoints per mixture component (calibration integral)
_HERMITE = 24  # Gauss-Hermite nodes for the shared per-study term


@dataclass(frozen=True)
class PanelConfig:
    """The simulated panel. `conspicuity_slope=None` uses the slope fitted to Kitazono et al."""

    n_readers: int = DEFAULT_READERS
    false_positive_rate: float = FALSE_POSITIVE_RATE
    study_sd: float = 0.0  # sd of the shared per-study logit term (0: no correlation beyond conspicuity)
    conspicuity_slope: float | None = None

    def __post_init__(self) -> None:
        if self.n_readers < 1 or self.n_readers % 2 == 0:
            raise ValueError(f"n_readers must be odd and >= 1 (a strict majority), got {self.n_readers}")
        if not 0.0 < self.false_positive_rate < 1.0:
            raise ValueError(f"false_positive_rate must be in (0, 1), got {self.false_positive_rate}")
        if self.study_sd < 0:
            raise ValueError(f"study_sd must be >= 0, got {self.study_sd}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    """The resolved reader model: logits a_f + b c (+ s u) per finding, a_fp for normals."""

    slope: float
    intercept: dict[str, float]
    fp_intercept: float
    hidden_share: dict[str, float]
    target: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def reader_columns(k: int) -> list[str]:
    return [f"reader_{j}" for j in range(1, k + 1)]


def majority_rate(p: np.ndarray | float, k: int) -> np.ndarray:
    """P(more than half of k independent reads are positive), each positive with probability p.
    k = 3: 3p^2 - 2p^3."""
    return stats.binom.sf(k // 2, k, np.asarray(p, dtype=np.float64))


# ---------------------------------------------------------------------------- calibration
def _quantile_grid() -> np.ndarray:
    """Conspicuity of a named finding at difficulty 1: Beta(3, 2) quantile midpoints, clipped."""
    q = (np.arange(_GRID) + 0.5) / _GRID
    return np.clip(stats.beta.ppf(q, CONSPICUITY_A, CONSPICUITY_B), MIN_CONSPICUITY, 1.0)


def _hermite(sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (sd * u) and weights for E[g(sd * u)], u ~ N(0, 1)."""
    if sd == 0:
        return np.zeros(1), np.ones(1)
    x, w = np.polynomial.hermite_e.hermegauss(_HERMITE)
    return sd * x, w / w.sum()


@lru_cache(maxsize=1)
def fitted_slope() -> float:
    """b: least-squares fit of sigmoid(a + b c) averaged over conspicuity tertiles to
    EFFUSION_BY_SIZE (Kitazono et al.). About 4.4 per unit conspicuity."""
    thirds = np.array_split(_quantile_grid(), 3)
    target = np.array(EFFUSION_BY_SIZE)

    def resid(x: np.ndarray) -> np.ndarray:
        return np.array([special.expit(x[0] + x[1] * t).mean() for t in thirds]) - target

    return float(optimize.least_squares(resid, [0.0, 5.0]).x[1])


@lru_cache(maxsize=1)
def hidden_share() -> dict[str, float]:
    """Per finding: the share of its true occurrences that NIH's label does not name (drawn at
    HIDDEN_CONSPICUITY_SCALE), as an exact expectation over NIH's table under the generator's
    label-noise model (metadata._true_findings) at NIH's own prevalence."""
    table = nih_table()
    labels = table["Finding Labels"].astype(str)
    sets = labels.str.split("|")
    normal = (labels == NO_FINDING).to_numpy()
    ap = (table["View Position"] == "AP").to_numpy()  # anything else is read as PA, as there
    rates = panel_rates()
    named = {f: 0.0 for f in GENERATED_FINDINGS}
    hidden = {f: 0.0 for f in GENERATED_FINDINGS}
    has = {f: sets.apply(lambda s, f=f: f in s).to_numpy() for f in GENERATED_FINDINGS}
    mapped = {c for classes in PANEL_TO_NIH.values() for c in classes}
    for f in GENERATED_FINDINGS:
        if f not in mapped and f != "Fracture":
            named[f] += float(has[f].sum())  # no panel evidence: NIH's label stands
    for cat, classes in PANEL_TO_NIH.items():
        keep = np.where(ap, rates.given_nih_has[cat]["AP"], rates.given_nih_has[cat]["PA"])
        add = np.where(ap, np.where(normal, rates.given_nih_lacks[cat]["AP"][True],
                                    rates.given_nih_lacks[cat]["AP"][False]),
                       np.where(normal, rates.given_nih_lacks[cat]["PA"][True],
                                rates.given_nih_lacks[cat]["PA"][False]))
        any_named = np.zeros(len(table), dtype=bool)
        for f in classes:
            named[f] += float((has[f] * keep).sum())
            any_named |= has[f]
        extra = float(add[~any_named].sum())
        weights = nih_class_weights(classes) if classes else np.ones(1)
        for f, w in zip(classes or (cat,), weights, strict=True):
            hidden[f] += extra * float(w)
    return {f: hidden[f] / (hidden[f] + named[f]) if hidden[f] + named[f] > 0 else 0.0
            for f in GENERATED_FINDINGS}


@lru_cache(maxsize=16)
def calibrate(config: PanelConfig) -> Calibration:
    """Solve each finding's intercept so that its average detection probability over the
    generator's conspicuity mixture (difficulty 1) and the shared term equals the cited figure."""
    b = fitted_slope() if config.conspicuity_slope is None else float(config.conspicuity_slope)
    shown = _quantile_grid()
    subtle = np.maximum(MIN_CONSPICUITY, shown * HIDDEN_CONSPICUITY_SCALE)
    z, wz = _hermite(config.study_sd)
    share = hidden_share()

    def mean_p(a: float, c: np.ndarray) -> float:
        return float((special.expit(a + b * c[:, None] + z[None, :]).mean(0) * wz).sum())

    intercept, target = {}, {}
    for f, (sens, _) in FINDING_SENSITIVITY.items():
        h = share[f]

        def gap(a: float, h: float = h, sens: float = sens) -> float:
            return (1 - h) * mean_p(a, shown) + h * mean_p(a, subtle) - sens

        intercept[f] = float(optimize.brentq(gap, -40.0, 40.0, xtol=1e-10))
        target[f] = sens
    q = config.false_positive_rate
    fp = float(optimize.brentq(lambda a: float((special.expit(a + z) * wz).sum()) - q, -40.0, 40.0,
                               xtol=1e-12))
    return Calibration(slope=b, intercept=intercept, fp_intercept=fp, hidden_share=dict(share),
                       target=target)


# ---------------------------------------------------------------------------- drawing the panel
def _flatten(truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(study index, finding name, conspicuity) per true finding of each study."""
    study, names, consp = [], [], []
    for i, (fs, cs) in enumerate(zip(truth["true_findings"].fillna("").astype(str),
                                     truth["conspicuity"].fillna("").astype(str), strict=True)):
        if not fs:
            continue
        f, c = fs.split("|"), cs.split("|")
        if len(f) != len(c):
            raise ValueError(f"ground truth row {i}: {len(f)} findings but {len(c)} conspicuity values")
        study += [i] * len(f)
        names += f
        consp += [float(x) for x in c]
    unknown = sorted(set(names) - set(FINDING_SENSITIVITY))
    if unknown:
        raise ValueError(f"no reader model for finding(s) {unknown}")
    return np.array(study, dtype=np.int64), np.array(names, dtype=object), np.array(consp)


def _logits(names: np.ndarray, consp: np.ndarray, cal: Calibration) -> np.ndarray:
    a = np.array([cal.intercept[f] for f in names], dtype=np.float64)
    return a + cal.slope * consp


def draw_panel(truth: pd.DataFrame, *, seed: int, config: PanelConfig | None = None) -> pd.DataFrame:
    """reference.csv for a generated set: each reader's read and the majority, per study.

    `truth` is ground_truth.csv (GROUND_TRUTH_COLUMNS). Reader j's reads come from
    SeedSequence([seed, PANEL_STREAM, j]) and the shared term from [seed, PANEL_STREAM, 0], so no
    other stream of the generator is touched, and reader j reads the same with 3 or 5 readers.
    """
    config = config or PanelConfig()
    cal = calibrate(config)
    n, k = len(truth), config.n_readers
    study, names, consp = _flatten(truth)
    abnormal = np.bincount(study, minlength=n) > 0
    shared = np.random.default_rng(np.random.SeedSequence([seed, PANEL_STREAM, 0])).standard_normal(n)
    u = config.study_sd * shared
    p_find = special.expit(_logits(names, consp, cal) + u[study])
    p_fp = special.expit(cal.fp_intercept + u)
    reads = np.zeros((k, n), dtype=np.int8)
    for j in range(k):
        rng = np.random.default_rng(np.random.SeedSequence([seed, PANEL_STREAM, j + 1]))
        detected = rng.random(len(names)) < p_find
        false_alarm = rng.random(n) < p_fp
        hit = np.bincount(study[detected], minlength=n) > 0
        reads[j] = np.where(abnormal, hit, false_alarm)
    votes = reads.sum(axis=0)
    index = truth["Image Index"].astype(str)
    out = pd.DataFrame({
        "Image Index": index.to_numpy(),
        "study_id": index.str.removesuffix(".png").to_numpy(),
        "reference_label": (votes > k // 2).astype(np.int8),
        "n_readers": k,
        "votes_abnormal": votes.astype(np.int64),
    })
    for j, col in enumerate(reader_columns(k)):
        out[col] = reads[j]
    return out


def call_probabilities(truth: pd.DataFrame, config: PanelConfig | None = None,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The model's own per-study P(one reader calls abnormal) and P(the majority does), from
    the truth alone (the shared term integrated out). For checking a drawn panel against it."""
    config = config or PanelConfig()
    cal = calibrate(config)
    n, k = len(truth), config.n_readers
    study, names, consp = _flatten(truth)
    abnormal = np.bincount(study, minlength=n) > 0
    z, wz = _hermite(config.study_sd)
    p = special.expit(_logits(names, consp, cal)[:, None] + z[None, :])  # (F, G)
    log_miss = np.zeros((n, len(z)))
    np.add.at(log_miss, study, np.log1p(-np.minimum(p, 1 - 1e-15)))
    p_study = np.where(abnormal[:, None], -np.expm1(log_miss),
                       special.expit(cal.fp_intercept + z)[None, :])  # (n, G)
    return p_study @ wz, majority_rate(p_study, k) @ wz


# ---------------------------------------------------------------------------- measuring it
def _rate(hits: np.ndarray) -> dict:
    k, n = int(hits.sum()), int(hits.size)
    lo, hi = clopper_pearson(k, n) if n else (float("nan"), float("nan"))
    return {"rate": k / n if n else float("nan"), "ci95": [lo, hi], "k": k, "n": n}


def panel_performance(reference: pd.DataFrame, true_abnormal: np.ndarray) -> dict:
    """Sensitivity / specificity against the truth, per reader and for the majority, with exact
    95% intervals; pairwise disagreement and the share of studies all readers agree on."""
    t = np.asarray(true_abnormal).astype(bool)
    cols = [c for c in reference.columns if c.startswith("reader_")]
    reads = reference[cols].to_numpy().astype(bool)

    def sens_spec(call: np.ndarray) -> dict:
        return {"sensitivity": _rate(call[t]), "specificity": _rate(~call[~t])}

    pairs = [(a, b) for a in range(len(cols)) for b in range(a + 1, len(cols))]
    disagree = [float((reads[:, a] != reads[:, b]).mean()) for a, b in pairs]
    return {
        "n_abnormal": int(t.sum()), "n_normal": int((~t).sum()),
        "readers": {c: sens_spec(reads[:, j]) for j, c in enumerate(cols)},
        "majority": sens_spec(reference["reference_label"].to_numpy().astype(bool)),
        "pairwise_disagreement": float(np.mean(disagree)) if disagree else 0.0,
        "all_agree": float((reads.all(1) | ~reads.any(1)).mean()),
    }


def expected_performance(truth: pd.DataFrame, config: PanelConfig | None = None) -> dict:
    """What the reader model expects on these studies (per reader, and for the majority)."""
    t = truth["true_abnormal"].to_numpy().astype(bool)
    one, maj = call_probabilities(truth, config)
    return {"reader_sensitivity": float(one[t].mean()), "reader_specificity": float(1 - one[~t].mean()),
            "majority_sensitivity": float(maj[t].mean()),
            "majority_specificity": float(1 - maj[~t].mean())}


def panel_summary(reference: pd.DataFrame, truth: pd.DataFrame, config: PanelConfig) -> dict:
    """What generated_set.json records about the panel: parameters, model, measured, expected."""
    cal = calibrate(config)
    return {
        "config": config.to_dict(),
        "model": {
            "slope_per_unit_conspicuity": cal.slope,
            "finding_sensitivity": {f: {"sensitivity": s, "source": src, "intercept": cal.intercept[f],
                                        "hidden_share": cal.hidden_share[f]}
                                    for f, (s, src) in FINDING_SENSITIVITY.items()},
            "false_positive_rate": config.false_positive_rate,
            "false_positive_source": "Hwang et al. 2025: 1 - specificity 0.936 (referable abnormality)",
            "calibrated_at": "difficulty 1, NIH prevalence (the generator's conspicuity mixture)",
        },
        "measured_vs_truth": panel_performance(reference, truth["true_abnormal"].to_numpy()),
        "expected": expected_performance(truth, config),
        "robinson_pair_disagreement": list(ROBINSON_PAIR_DISAGREEMENT),
        "reads": int(config.n_readers * len(reference)),
    }
