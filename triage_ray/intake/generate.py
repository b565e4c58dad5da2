"""A generator of realistic intake-form records whose two labels share a tunable amount of signal.

Scenario: a patient arrives with a complaint (from `complaints.COMPLAINTS`) and a history; a latent
acuity says how sick they are. Vital signs are deranged by that acuity; the nurse writes a messy
chief complaint (with severity words when the patient looks sick); the urgency tier follows
ESI/KTAS-style logic (critical vitals, danger-zone vitals, complaint severity, age, comorbidity);
the sub-specialty follows the complaint and the history (e.g. chest pain with coronary disease goes
to cardiology). Two raters with independent noise label every record; the first rater's labels are
kept, and the agreement between the two is reported so the label noise is measured, not assumed.

`relatedness` (0..1) is the knob for transfer: at 1 the latent acuity is set by the complaint (so
complaint words and specialty predict urgency) and vitals follow the complaint's physiology; at 0
acuity is independent of the complaint and vitals follow a random pattern, so the two tasks share
only the patient's history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from triage_ray.common.stats import sigmoid
from triage_ray.intake import text
from triage_ray.intake.complaints import (
    COMPLAINTS,
    MILD_MODIFIERS,
    SEVERE_MODIFIERS,
    VITAL_PROFILES,
)
from triage_ray.intake.schema import (
    ARRIVAL_MODES,
    COMORBIDITIES,
    COMORBIDITY_SEP,
    GENERATED,
    NUMERIC_RANGES,
    RECORD_COLUMNS,
    SPECIALTIES,
    VITALS,
)

DEFAULT_N = 40_000
# Rater noise on the latent urgency score (sd, score units) and the chance a rater routes to a
# different service. Set so that two raters' agreement lands at human inter-rater levels:
# weighted kappa ~0.77-0.89 for ESI/KTAS levels (see /shared notes, "Human agreement on triage").
URGENCY_RATER_SD = 0.40
MISROUTE_P = 0.07
TYPO_RATE = 0.04  # per word
# Routing weights are raised to this power before sampling: a triage nurse's choice of service is
# mostly determined by complaint and history (2.0 turns a 60/20/20 split into ~82/9/9).
ROUTE_SHARPNESS = 2.0
# Urgency-score cut points (score units) -> tiers immediate/emergent/urgent/non_urgent. Chosen so
# the generated case mix is ~3% / ~17% / ~45% / ~35%, close to published ED ESI distributions
# (ESI 1 ~1-3%, ESI 2 ~15-25%, ESI 3 ~40-50%, ESI 4-5 ~25-35%); the most urgent tier is rare.
URGENCY_CUTS = (3.2, 1.26, -0.2)
# Fraction of records missing each field (before the acuity adjustment below). Triage forms skip
# temperature and pain most often; a design choice, not a measured rate.
MISSING_RATES: dict[str, float] = {
    "hr": 0.03, "sbp": 0.05, "rr": 0.08, "spo2": 0.06, "temp_c": 0.12, "pain": 0.10,
    "symptom_duration_h": 0.15, "prior_visits": 0.05,
}
PROFILE_NAMES = tuple(VITAL_PROFILES)


def _comorbidities(age: np.ndarray, sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, M) bool, age-dependent prevalence (rough population shapes, a design choice)."""
    p = {
        "hypertension": 0.55 * sigmoid((age - 55) / 10), "diabetes": 0.25 * sigmoid((age - 50) / 12),
        "coronary_artery_disease": 0.2 * sigmoid((age - 60) / 10),
        "heart_failure": 0.12 * sigmoid((age - 70) / 8), "copd": 0.12 * sigmoid((age - 60) / 10),
        "asthma": np.full_like(age, 0.09), "chronic_kidney_disease": 0.1 * sigmoid((age - 65) / 10),
        "cancer": 0.08 * sigmoid((age - 60) / 12),
        "pregnancy": np.where((sex == "F") & (age >= 15) & (age <= 49), 0.08, 0.0),
        "psychiatric_history": np.full_like(age, 0.12), "immunosuppression": np.full_like(age, 0.04),
    }
    return np.column_stack([rng.random(age.size) < p[c] for c in COMORBIDITIES])


def _condition(name: str, age: np.ndarray, com: np.ndarray) -> np.ndarray:
    if name == "age>=65":
        return age >= 65
    if name == "age>=50":
        return age >= 50
    if name == "age<18":
        return age < 18
    return com[:, COMORBIDITIES.index(name)]


def _sample_rows(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of non-negative weights (n, K)."""
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((cdf < rng.random((w.shape[0], 1))).sum(axis=1), w.shape[1] - 1)


def _complaints(age: np.ndarray, sex: np.ndarray, com: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    w = np.empty((age.size, len(COMPLAINTS)))
    for j, c in enumerate(COMPLAINTS):
        wj = np.full(age.size, c.weight)
        for cond, mult in c.prevalence_mods.items():
            wj = np.where(_condition(cond, age, com), wj * mult, wj)
        if c.female_only:
            wj = np.where((sex == "F") & (age >= 12) & (age <= 60), wj, 0.0)
        if c.requires:
            wj = np.where(com[:, COMORBIDITIES.index(c.requires)], wj, 0.0)
        w[:, j] = wj
    return _sample_rows(w, rng)


def _route_weights(cid: np.ndarray, age: np.ndarray, sex: np.ndarray, com: np.ndarray
                   ) -> np.ndarray:
    """(n, 12) routing weights of each record's complaint, shifted by its history."""
    w = np.zeros((cid.size, len(SPECIALTIES)))
    for j, c in enumerate(COMPLAINTS):
        rows = cid == j
        for spec, base in c.routes.items():
            w[rows, SPECIALTIES.index(spec)] = base
        for cond, mods in c.route_mods.items():
            hit = rows & _condition(cond, age, com)
            for spec, mult in mods.items():
                w[hit, SPECIALTIES.index(spec)] *= mult
    w[sex != "F", SPECIALTIES.index("obstetrics_gynaecology")] = 0.0
    w[w.sum(axis=1) == 0, SPECIALTIES.index("general_surgery")] = 1.0  # e.g. male pelvic pain
    return w**ROUTE_SHARPNESS


def _rater_route(true_spec: np.ndarray, route_w: np.ndarray, misroute_p: float,
                 rng: np.random.Generator) -> np.ndarray:
    """A rater keeps the true service or, with prob misroute_p, picks another plausible one."""
    alt = route_w.copy()
    alt[np.arange(alt.shape[0]), true_spec] = 0.0
    alt[alt.sum(axis=1) == 0] = 1.0  # single-route complaints: any service
    alt[np.arange(alt.shape[0]), true_spec] = 0.0
    flip = rng.random(true_spec.size) < misroute_p
    return np.where(flip, _sample_rows(alt, rng), true_spec)


def danger_score(v: dict[str, np.ndarray], age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(danger, critical): ESI-style danger-zone points and the immediate-tier vital criteria.

    Thresholds follow the adult ESI danger zone (HR > 100, RR > 20, SpO2 < 92) and common
    resuscitation criteria; adult thresholds are used for all ages (a simplification).
    """
    hr, sbp, rr, spo2, t = v["hr"], v["sbp"], v["rr"], v["spo2"], v["temp_c"]
    danger = (0.5 * (hr > 100) + 0.5 * (hr > 130) + 0.7 * (hr < 50) + 0.5 * (rr > 20)
              + 0.5 * (rr > 28) + 0.4 * (spo2 < 95) + 0.6 * (spo2 < 92) + 1.0 * (sbp < 90)
              + 0.5 * (sbp > 180) + 0.4 * (t > 38.5) + 0.3 * (t > 39.5) + 0.6 * (t < 35.5))
    critical = (spo2 < 85) | (sbp < 80) | (hr > 150) | (hr < 40) | (rr > 35) | (rr < 8)
    return danger, critical


def _tiers(score: np.ndarray, critical: np.ndarray) -> np.ndarray:
    tier = np.full(score.size, 3)
    for k, cut in enumerate(URGENCY_CUTS):  # cuts from most to least urgent
        tier = np.where((tier == 3) & (score >= cut), k, tier)
    return np.where(critical, 0, tier)


def _vitals(a: np.ndarray, cid: np.ndarray, age: np.ndarray, com: np.ndarray, relatedness: float,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = a.size
    own = np.array([PROFILE_NAMES.index(COMPLAINTS[j].profile) for j in cid])
    prof = np.where(rng.random(n) < relatedness, own, rng.integers(len(PROFILE_NAMES), size=n))
    # derangement grows smoothly once acuity is above ~0.7 sd
    mag = np.logaddexp(0.0, 1.6 * (a - 0.7)) / 1.6 * rng.lognormal(0.0, 0.25, n)
    eff = {k: np.array([VITAL_PROFILES[PROFILE_NAMES[p]].get(k, 0.0) for p in prof]) * mag
           for k in VITALS}
    col = {c: com[:, COMORBIDITIES.index(c)] for c in ("hypertension", "copd")}
    v = {
        "hr": 78 + rng.normal(0, 11, n) + eff["hr"],
        "sbp": 120 + 0.45 * (np.maximum(age, 18) - 40) + 15 * col["hypertension"]
        + rng.normal(0, 12, n) + eff["sbp"],
        "rr": 16 + rng.normal(0, 2.2, n) + eff["rr"],
        "spo2": 97.8 - 3 * col["copd"] - 0.03 * np.maximum(age - 60, 0) + rng.normal(0, 1, n)
        + eff["spo2"],
        "temp_c": 36.8 + rng.normal(0, 0.35, n) + eff["temp_c"],
    }
    v["dbp"] = 0.55 * v["sbp"] + 8 + rng.normal(0, 7, n)
    for k in ("hr", "sbp", "dbp", "rr", "spo2"):
        v[k] = np.round(v[k])
    v["temp_c"] = np.round(v["temp_c"], 1)
    v["spo2"] = np.minimum(v["spo2"], 100.0)
    return {k: np.clip(x, *NUMERIC_RANGES[k]) for k, x in v.items()}


@dataclass(frozen=True)
class GeneratedRecords:
    """Records plus what the generator knows and a data file never holds (for the controls)."""

    records: pd.DataFrame  # RECORD_COLUMNS
    card: dict
    complaint: np.ndarray  # (n,) index into complaints.COMPLAINTS
    acuity: np.ndarray  # (n,) the latent acuity


def generate_records(n: int = DEFAULT_N, relatedness: float = 0.5, seed: int = 0,
                     **kw: float) -> tuple[pd.DataFrame, dict]:
    """`n` generated records (RECORD_COLUMNS) and a data card (prevalences, measured agreement).

    Deterministic for a given (n, relatedness, seed, ...); keywords as `generate_with_latents`.
    """
    out = generate_with_latents(n, relatedness, seed, **kw)
    return out.records, out.card


def generate_with_latents(
    n: int = DEFAULT_N,
    relatedness: float = 0.5,
    seed: int = 0,
    *,
    urgency_rater_sd: float = URGENCY_RATER_SD,
    misroute_p: float = MISROUTE_P,
    typo_rate: float = TYPO_RATE,
    missing_scale: float = 1.0,
) -> GeneratedRecords:
    """`generate_records`, keeping each record's complaint and latent acuity."""
    if not 0.0 <= relatedness <= 1.0:
        raise ValueError(f"relatedness must be in [0, 1], got {relatedness}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng([seed, int(round(relatedness * 1000))])
    group = rng.choice(3, size=n, p=[0.15, 0.60, 0.25])  # children / adults / 65+
    age = np.round(np.select([group == 0, group == 1], [rng.uniform(1, 18, n),
                                                        rng.uniform(18, 65, n)],
                             rng.uniform(65, 97, n)))
    sex = rng.choice(np.array(["F", "M", "U"]), size=n, p=[0.515, 0.475, 0.01])
    com = _comorbidities(age, sex, rng)
    cid = _complaints(age, sex, com, rng)

    # latent acuity: complaint's standardised acuity mixed with independent severity
    acu = np.array([c.acuity for c in COMPLAINTS])
    z_c = (acu[cid] - acu[cid].mean()) / acu[cid].std()
    a = relatedness * z_c + np.sqrt(1.0 - relatedness**2) * rng.normal(size=n)

    route_w = _route_weights(cid, age, sex, com)
    true_spec = _sample_rows(route_w, rng)
    v = _vitals(a, cid, age, com, relatedness, rng)
    pain = np.clip(np.round(np.array([COMPLAINTS[j].pain for j in cid]) + 0.8 * a
                            + rng.normal(0, 1.5, n)), 0, 10)
    dur = np.array([COMPLAINTS[j].duration_h for j in cid])
    duration = np.clip(np.round(rng.lognormal(np.log(dur) - 0.3 * a, 0.9) * 2) / 2, 0.0,
                       NUMERIC_RANGES["symptom_duration_h"][1])
    psych = com[:, COMORBIDITIES.index("psychiatric_history")]
    arrival_logits = np.column_stack([
        np.zeros(n), -2.2 + 1.2 * a + 0.02 * (age - 40), -4.5 + 2.0 * psych,
        -4.0 + 0.5 * a,
    ])
    arrival = np.asarray(ARRIVAL_MODES)[_sample_rows(np.exp(arrival_logits), rng)]
    prior = rng.poisson(0.25 + 0.35 * com.sum(axis=1) + 0.8 * psych).astype(float)

    danger, critical = danger_score(v, age)
    score = (0.9 * a + 0.6 * danger + 0.35 * (age >= 75) + 0.1 * np.minimum(com.sum(axis=1), 4)
             + 0.2 * (pain >= 8) + 0.3 * (arrival == "ambulance"))
    urgency = _tiers(score + rng.normal(0, urgency_rater_sd, n), critical)
    urgency_b = _tiers(score + rng.normal(0, urgency_rater_sd, n), critical)
    specialty = _rater_route(true_spec, route_w, misroute_p, rng)
    specialty_b = _rater_route(true_spec, route_w, misroute_p, rng)

    cc = _chief_complaints(cid, a, duration, com, age, sex, rng, typo_rate)
    df = pd.DataFrame({
        "record_id": np.arange(n, dtype=np.int64), "age": age.astype(float), "sex": sex,
        "arrival_mode": arrival, **{k: v[k].astype(float) for k in VITALS},
        "pain": pain.astype(float), "symptom_duration_h": duration.astype(float),
        "comorbidities": [COMORBIDITY_SEP.join(np.asarray(COMORBIDITIES)[r]) for r in com],
        "prior_visits": prior, "chief_complaint": cc, "urgency": urgency.astype(np.int64),
        "specialty": specialty.astype(np.int64), "source": GENERATED,
    })
    _drop_values(df, a, missing_scale, rng)
    card = {
        "source": GENERATED, "n": n, "relatedness": relatedness, "seed": seed,
        "urgency_weighted_kappa_between_raters": float(
            cohen_kappa_score(urgency, urgency_b, weights="quadratic")),
        "urgency_linear_kappa_between_raters": float(
            cohen_kappa_score(urgency, urgency_b, weights="linear")),
        "specialty_kappa_between_raters": float(cohen_kappa_score(specialty, specialty_b)),
        "corr_acuity_complaint": float(np.corrcoef(a, z_c)[0, 1]),
        "critical_vitals_fraction": float(critical.mean()),
    }
    return GeneratedRecords(df[list(RECORD_COLUMNS)], card, cid, a)


def _drop_values(df: pd.DataFrame, a: np.ndarray, scale: float, rng: np.random.Generator) -> None:
    """Blank fields in place; sicker patients get fuller forms (missing not at random)."""
    mult = np.where(a < 0, 1.4, np.where(a > 1.5, 0.4, 1.0)) * scale
    for col, rate in MISSING_RATES.items():
        gone = rng.random(len(df)) < rate * mult
        df.loc[gone, col] = np.nan
        if col == "sbp":
            df.loc[gone, "dbp"] = np.nan  # one cuff reading: both or neither
    df.loc[rng.random(len(df)) < 0.01 * scale, "sex"] = "U"


def _chief_complaints(cid: np.ndarray, a: np.ndarray, duration: np.ndarray, com: np.ndarray,
                      age: np.ndarray, sex: np.ndarray, rng: np.random.Generator,
                      typo_rate: float) -> list[str]:
    expressed = a + rng.normal(0, 0.6, a.size)
    out = []
    for i, j in enumerate(cid):
        c = COMPLAINTS[j]
        sev = ""
        if expressed[i] > 1.3 and rng.random() < 0.85:
            sev = str(rng.choice(SEVERE_MODIFIERS))
        elif expressed[i] < -0.9 and rng.random() < 0.7:
            sev = str(rng.choice(MILD_MODIFIERS))
        assoc = str(rng.choice(c.assoc)) if c.assoc and rng.random() < 0.45 else ""
        dur = text.duration_phrase(duration[i], rng) if rng.random() < 0.45 else ""
        hist = ""
        has = np.flatnonzero(com[i])
        if has.size and rng.random() < 0.25:
            hist = str(rng.choice(text.HISTORY_TERMS[COMORBIDITIES[int(rng.choice(has))]]))
        out.append(text.compose(str(rng.choice(c.phrases)), sev, assoc, dur, hist, int(age[i]),
                                str(sex[i]), rng, typo_rate))
    return out
