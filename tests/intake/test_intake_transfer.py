"""Transfer = F1(multi-task) - F1(single-task) with a paired CI, and the tables, decisions and the
recommendation document computed from it (synthetic predictions: no training, no Ray)."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from triage_ray.intake.brief import write_recommendation
from triage_ray.intake.collect import SeedRun
from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.evaluate import BootstrapPlan
from triage_ray.intake.recommend import choose_option, map_summary, probe_summary
from triage_ray.intake.report import write_figures
from triage_ray.intake.schema import GENERATED, TASKS
from triage_ray.intake.setups import headline_setups, map_setups
from triage_ray.intake.study import decide
from triage_ray.intake.tables import TF_PAIR, evaluate_study
from triage_ray.intake.transfer import paired_difference, verdict

SELECTED = "mtl_fixed"
SETTINGS = {
    "rel0.5": {"role": "headline", "relatedness": 0.5, "sizes": [100, 200]},
    "rel1": {"role": "map", "relatedness": 1.0, "sizes": [100]},
    "control_positive": {"role": "control", "relatedness": None, "sizes": [100]},
    "control_negative": {"role": "control", "relatedness": None, "sizes": [100]},
}


def test_verdict_only_when_ci_excludes_zero():
    assert verdict(0.01, 0.05) == "positive"
    assert verdict(-0.05, -0.01) == "negative"
    assert verdict(-0.01, 0.02) == "inconclusive"
    assert verdict(0.0, 0.02) == "inconclusive"


def test_paired_difference_of_identical_models_is_zero():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 1000)
    p = np.where(rng.random((3, 1000)) < 0.7, y, rng.integers(0, 4, (3, 1000)))
    plan = BootstrapPlan(1000, 3, 200)
    reps = plan.f1_replicates(y, p, 4)
    d = paired_difference(0.5, 0.5, reps, reps, 0.95)
    assert d["delta"] == 0 and d["ci_low"] == d["ci_high"] == 0 and d["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="same BootstrapPlan"):
        paired_difference(0.5, 0.5, reps, reps[:10], 0.95)


def _seed_run(setup, size, seed, acc, labels, rng):
    arrays = {f"{s}_record_id": np.arange(len(labels["urgency"][s])) for s in ("val", "test")}
    for task in setup.tasks:
        k = len(TASKS[task])
        for split, y in labels[task].items():
            good = rng.random(y.size) < acc[task]
            pred = np.where(good, y, rng.integers(0, k, y.size))
            arrays[f"{split}_{task}_logits"] = 3.0 * np.eye(k)[pred] + rng.normal(0, 1, (y.size, k))
            arrays[f"{split}_{task}_y"] = y
    multi = setup.kind == "multitask"
    meta = {"setup": setup.key, "seed": seed, "size": size, "fit_wall_s": 1.0, "fit_cpu_s": 2.0,
            "train_gflop": 3.0, "n_params": 1000 * (2 if multi else 1), "predict_wall_s": 0.1,
            "n_predicted": 2000, "best_epoch": 2,
            "grad_cosine": [(0, 0.2), (8, 0.1)] if multi else [],
            "affinity": [(0, {"urgency->specialty": 0.01, "specialty->urgency": 0.02})] if multi
            else [], "task_weights": {t: 0.5 for t in setup.tasks}}
    return SeedRun(arrays, meta)


def _runs(cfg, acc_of, rng):
    """Synthetic checkpoints: acc_of(setting, setup key) -> accuracy of its predictions."""
    labels = {t: {s: rng.integers(0, len(c), n) for s, n in (("val", 300), ("test", 1500))}
              for t, c in TASKS.items()}
    runs = {}
    for setting, info in SETTINGS.items():
        setups = (headline_setups(["fixed", "uncertainty"], "fixed", True)
                  if info["role"] == "headline" else map_setups("fixed"))
        for setup in setups:
            for size in info["sizes"]:
                acc = {t: acc_of(setting, setup.key) for t in TASKS}
                runs[(setting, setup.key, size)] = [
                    _seed_run(setup, size, s, acc, labels, rng) for s in range(cfg.seeds)]
    return runs


@pytest.fixture(scope="module")
def cfg():
    return IntakeConfig.from_dict({"train_sizes": [100], "seeds": 3, "n_boot": 300,
                                   "relatedness": [0.5, 1.0]})


def _acc(gain, xgb=0.4):
    def acc(setting, key):
        if key == "xgb":
            return xgb
        if key.startswith("mtl"):
            if setting == "control_negative":
                return 0.25  # sharing with a random label hurts
            return 0.5 + (gain if key == SELECTED else 0.0)
        return 0.5
    return acc


def test_transfer_map_and_controls_follow_the_data(cfg):
    rng = np.random.default_rng(1)
    pos = evaluate_study(cfg, _runs(cfg, _acc(+0.25), rng), SETTINGS, SELECTED)
    sel = pos.transfer[pos.transfer.selected]
    # every (setting, size) cell, two tasks each: headline 2 sizes, map 1, controls 1 each
    assert len(sel) == 2 * (2 + 1 + 1 + 1)
    not_ctrl = sel[sel.role != "control"]
    assert (not_ctrl.verdict == "positive").all() and (not_ctrl.ci_low > 0).all()
    summary = map_summary(pos)
    assert summary["overall"] == {"positive": 6, "negative": 0, "inconclusive": 0}
    controls = pos.controls.groupby("control").passed.first().to_dict()
    assert controls == {"positive": True, "negative": True}
    # a weighting no better than the tuned fixed one is negative against it, per size and task
    w = pos.weightings
    assert set(w.weighting) == {"mtl_uncertainty"} and (w.verdict == "negative").all()
    # costs: the two single-task Transformers are counted together
    c = pos.costs.set_index(["setting", "size", "setup"])
    assert c.loc[("rel0.5", 100, TF_PAIR), "fit_cpu_s"] == pytest.approx(2 * 2.0 * cfg.seeds)
    assert not pos.probes.empty and set(pos.results.task) == set(TASKS)

    neg = evaluate_study(cfg, _runs(cfg, _acc(-0.25), rng), SETTINGS, SELECTED)
    sel = neg.transfer[neg.transfer.selected & (neg.transfer.role != "control")]
    assert (sel.verdict == "negative").all()
    assert neg.controls.groupby("control").passed.first().to_dict()["positive"] is False


def test_recommendation_is_computed_and_readable(cfg, tmp_path):
    rng = np.random.default_rng(2)
    good_mtl = evaluate_study(cfg, _runs(cfg, _acc(+0.25), rng), SETTINGS, SELECTED)
    choice = choose_option(good_mtl, "rel0.5", 200, 0.95)
    assert choice["choice"] == "mtl" and choice["leader"] == {t: "mtl" for t in TASKS}

    good_xgb = evaluate_study(cfg, (runs := _runs(cfg, _acc(-0.25, xgb=0.8), rng)), SETTINGS,
                              SELECTED)
    assert choose_option(good_xgb, "rel0.5", 200, 0.95)["choice"] == "xgb"
    d, by_class = decide(cfg, good_xgb, runs, {}, GENERATED, "synthetic")
    by_class.to_csv(tmp_path / "calibration_by_class.csv", index=False)
    figures = write_figures(tmp_path, good_xgb, pd.DataFrame(
        {"setup": ["mtl_fixed"], "lr": [1e-3], "best_val_f1": [0.5], "chosen": [True]}),
        GENERATED, 0.95)
    pdf = write_recommendation(tmp_path, d, figures)
    reader = PdfReader(pdf)
    text = " ".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) <= 2
    assert "GENERATED DATA" in text and "Ship two XGBoost models" in text
    saved = json.loads((tmp_path / "recommendation.json").read_text())
    xgb_f1 = next(r for r in saved["results"] if r["setup"] == "xgb" and r["task"] == "urgency")
    assert f"{xgb_f1['f1']:.3f}" in text  # the table's numbers are the run's
    imm = by_class[(by_class.task == "urgency")].iloc[0]
    assert imm["class"] == "immediate" and f"{100 * imm['recall']:.1f}%" in text
    negatives = saved["map"]["overall"]["negative"]
    assert f"negative in {negatives}" in text.replace("\n", " ")
    md = (tmp_path / "recommendation.md").read_text()
    assert "**Ship two XGBoost models.**" in md and "figures/transfer_map.png" in md


def test_probe_interval_stays_inside_what_the_probe_can_be():
    # two seeds far apart: the t-interval of their mean is wider than a cosine can be
    probes = pd.DataFrame({"setting": "rel1", "size": 100, "setup": SELECTED, "seed": [0, 1],
                           "step": 0, "cosine": [0.9, -0.8],
                           "tag_urgency_to_specialty": [0.9, -0.8],
                           "tag_specialty_to_urgency": [0.1, 0.1]})
    t = SimpleNamespace(probes=probes, selected_mtl=SELECTED)
    (row,) = probe_summary(t, 0.95).to_dict("records")
    assert -1.0 == row["cosine_ci_low"] < row["cosine"] < row["cosine_ci_high"] == 1.0
    assert row["tag_urgency_to_specialty_ci_low"] < -1.0  # an affinity is not bounded below
    assert row["tag_urgency_to_specialty_ci_high"] == 1.0
