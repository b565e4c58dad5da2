"""Who the generated studies are: metadata and labels drawn from the real NIH table.

Each generated study copies one real NIH row (age, sex, view, its finding combination) and keeps
the table's per-patient structure (whole follow-up series, in order), so prevalence, co-occurrence
and clustering are NIH's own. NIH's labels were NLP-mined from reports and are noisy; the label
written for a generated study is that NIH label, and its *true* findings are drawn from what
Google's 2019 radiologist panel found on NIH images with the same NIH label and view
(`reference.panel_rates`). So the written labels mix like NIH's and are wrong as often as NIH's are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from triage_ray.data.reference import PANEL_TO_NIH, nih_class_weights, nih_table, panel_rates
from triage_ray.data.schema import GROUND_TRUTH_COLUMNS, NIH_CSV_COLUMNS, NO_FINDING
from triage_ray.data.synth.render import StudySpec

# Conspicuity c ~ Beta(CONSPICUITY_A, CONSPICUITY_B * difficulty): at difficulty 1 the mean is 0.6
# and one NIH-named finding in 40 has c < 0.2 (subtle enough to be missed); difficulty 2: mean
# 0.43, one in 10.
CONSPICUITY_A, CONSPICUITY_B = 3.0, 2.0
MIN_CONSPICUITY = 0.02
# Findings the panel saw but NIH's NLP-mined label did not name are drawn at this fraction of the
# usual conspicuity: a finding a report left out is more likely a subtle one. Our assumption, not
# a measured figure; set to 1.0 to make hidden findings as visible as named ones.
HIDDEN_CONSPICUITY_SCALE = 0.5


@dataclass(frozen=True)
class DrawnStudies:
    entries: pd.DataFrame  # NIH_CSV_COLUMNS, one row per study: what Data_Entry_2017.csv holds
    truth: pd.DataFrame  # GROUND_TRUTH_COLUMNS
    specs: list[StudySpec]


def draw_studies(n: int, *, seed: int, prevalence: float | None, difficulty: float,
                 label_noise: bool, image_size: int) -> DrawnStudies:
    """Draw `n` studies: rows of the NIH table, whole patients at a time, in follow-up order.

    prevalence=None keeps NIH's own abnormal rate (46.2% of rows); a float takes exactly
    round(prevalence * n) rows that NIH labels abnormal (a label-shifted pile). Patients are
    reused under new ids when the table runs out (n > 112,120, or an extreme prevalence).
    """
    if n < 1:
        raise ValueError(f"n_studies must be >= 1, got {n}")
    if prevalence is not None and not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be in [0, 1] or None, got {prevalence}")
    if difficulty <= 0:
        raise ValueError(f"difficulty must be > 0, got {difficulty}")
    table = nih_table()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    rows, keys = _select_rows(table, n, prevalence, rng)
    picked = table.iloc[rows].reset_index(drop=True)

    # new, sequential patient ids in order of appearance; follow-ups renumbered 0..k-1
    patient = pd.Series(pd.factorize(pd.Series(keys))[0] + 1)
    follow = patient.groupby(patient).cumcount()
    index_names = [f"{p:08d}_{f:03d}.png" for p, f in zip(patient, follow, strict=True)]
    scale = picked["OriginalImage[Width"] / image_size  # keep the physical field of view
    entries = pd.DataFrame({
        "Image Index": index_names,
        "Finding Labels": picked["Finding Labels"].to_numpy(),
        "Follow-up #": follow.to_numpy(),
        "Patient ID": patient.to_numpy(),
        "Patient Age": picked["Patient Age"].to_numpy(),
        "Patient Gender": picked["Patient Gender"].to_numpy(),
        "View Position": picked["View Position"].to_numpy(),
        "OriginalImage[Width": image_size,
        "Height]": image_size,
        "OriginalImagePixelSpacing[x": np.round(picked["OriginalImagePixelSpacing[x"] * scale, 4),
        "y]": np.round(picked["y]"] * scale, 4),
    })[list(NIH_CSV_COLUMNS)]

    nih_sets = [_findings(s) for s in picked["Finding Labels"]]
    truth_sets = (_true_findings(nih_sets, entries["View Position"].tolist(), rng) if label_noise
                  else [tuple(s) for s in nih_sets])
    flat = np.clip(rng.beta(CONSPICUITY_A, CONSPICUITY_B * difficulty, sum(map(len, truth_sets))),
                   MIN_CONSPICUITY, 1.0).tolist()
    bounds = np.cumsum([0, *map(len, truth_sets)])
    # a finding the report-mined label missed is taken to be a subtler one (an assumption)
    consp = [tuple(c if f in nih else max(MIN_CONSPICUITY, c * HIDDEN_CONSPICUITY_SCALE)
                   for f, c in zip(t, flat[a:b], strict=True))
             for t, nih, a, b in zip(truth_sets, nih_sets, bounds[:-1], bounds[1:], strict=True)]
    truth = pd.DataFrame({
        "Image Index": index_names,
        "true_findings": ["|".join(t) for t in truth_sets],
        "conspicuity": ["|".join(f"{c:.4f}" for c in cs) for cs in consp],
        "true_abnormal": [int(len(t) > 0) for t in truth_sets],
        "noisy_label": [int(len(s) > 0) for s in nih_sets],
        "nih_source_image": picked["Image Index"].to_numpy(),
    })[list(GROUND_TRUTH_COLUMNS)]
    ages, sexes, views = (entries[c].tolist() for c in ("Patient Age", "Patient Gender", "View Position"))
    specs = [
        StudySpec(index=i, patient=int(p), age=int(ages[i]), female=sexes[i] == "F",
                  view=str(views[i]), findings=truth_sets[i], conspicuity=consp[i])
        for i, p in enumerate(patient.tolist())
    ]
    return DrawnStudies(entries=entries, truth=truth, specs=specs)


def _findings(label: str) -> list[str]:
    return [] if label == NO_FINDING else label.split("|")


def _select_rows(table: pd.DataFrame, n: int, prevalence: float | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Row positions in (shuffled patient, follow-up) order, and a (pass, patient) key per row."""
    order = table.sort_values(["Patient ID", "Follow-up #"]).index.to_numpy()
    pid = table["Patient ID"].to_numpy()[order]
    abnormal = (table["Finding Labels"].to_numpy() != NO_FINDING)[order]
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    need_abn = None if prevalence is None else round(prevalence * n)
    taken: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    got_abn = got_norm = 0
    for pass_no in range(10_000):
        perm = rng.permutation(len(starts))
        seq = np.concatenate([np.arange(starts[p], starts[p] + lengths[p]) for p in perm])
        if need_abn is None:
            sel = seq[: n - sum(len(t) for t in taken)]
        else:
            abn = seq[abnormal[seq]][: need_abn - got_abn]
            norm = seq[~abnormal[seq]][: (n - need_abn) - got_norm]
            got_abn, got_norm = got_abn + len(abn), got_norm + len(norm)
            keep = np.zeros(len(order), dtype=bool)
            keep[abn], keep[norm] = True, True
            sel = seq[keep[seq]]  # back in patient/follow-up order
        taken.append(order[sel])
        keys.append(np.stack([np.full(len(sel), pass_no), pid[sel]], axis=1))
        if sum(len(t) for t in taken) >= n:
            break
    rows = np.concatenate(taken)
    return rows, [(int(a), int(b)) for a, b in np.concatenate(keys)]


def _true_findings(nih_sets: list[list[str]], views: list[str],
                   rng: np.random.Generator) -> list[tuple[str, ...]]:
    """What a radiologist panel would call each study, given NIH's label and the view."""
    rates = panel_rates()
    weights = {cat: nih_class_weights(classes) for cat, classes in PANEL_TO_NIH.items() if classes}
    weights["Fracture"] = np.ones(1)
    mapped = {c for classes in PANEL_TO_NIH.values() for c in classes}
    cum = {cat: np.cumsum(w) for cat, w in weights.items()}
    draws = rng.random((len(nih_sets), len(PANEL_TO_NIH), 2))  # keep/add, and which class
    out: list[tuple[str, ...]] = []
    for i, (nih, view) in enumerate(zip(nih_sets, views, strict=True)):
        v = view if view in ("PA", "AP") else "PA"
        truth = [f for f in nih if f not in mapped]  # no panel evidence: NIH's label stands
        for j, (cat, classes) in enumerate(PANEL_TO_NIH.items()):
            named = [f for f in nih if f in classes]
            if named:
                if draws[i, j, 0] < rates.given_nih_has[cat][v]:
                    truth.extend(named)
            elif draws[i, j, 0] < rates.given_nih_lacks[cat][v][len(nih) == 0]:
                pick = min(int(np.searchsorted(cum[cat], draws[i, j, 1])), len(classes) - 1)
                truth.append(classes[pick] if classes else cat)
        out.append(tuple(sorted(set(truth))))
    return out
