"""Transfer = F1(multi-task) - F1(single-task) with a paired CI, and the tables and
recommendation computed from it (synthetic predictions: no training, no Ray)."""

import numpy as np
import pytest

from triage_ray.intake.collect import SeedRun
from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.evaluate import BootstrapPlan
from triage_ray.intake.recommend import choose_option, recommendation
from triage_ray.intake.schema import TASKS
from triage_ray.intake.setups import study_setups
from triage_ray.intake.tables import TF_PAIR, evaluate_study
from triage_ray.intake.transfer import paired_difference, verdict


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


def _runs(cfg, acc, rng):
    """Synthetic checkpoints: acc[(setup, task)] is the accuracy of that setup's predictions."""
    n_val, n_test = 300, 1500
    labels = {t: {s: rng.integers(0, len(c), n) for s, n in (("val", n_val), ("test", n_test))}
              for t, c in TASKS.items()}
    runs = {}
    for setup in study_setups(cfg):
        for size in cfg.train_sizes:
            seeds = []
            for seed in range(cfg.seeds):
                arrays = {f"{s}_record_id": np.arange(n) for s, n in (("val", n_val), ("test", n_test))}
                for task in setup.tasks:
                    k = len(TASKS[task])
                    for split, y in labels[task].items():
                        good = rng.random(y.size) < acc[(setup.key, task)]
                        pred = np.where(good, y, rng.integers(0, k, y.size))
                        noise = rng.normal(0, 1, (y.size, k))
                        arrays[f"{split}_{task}_logits"] = 3.0 * np.eye(k)[pred] + noise
                        arrays[f"{split}_{task}_y"] = y
                meta = {"seed": seed, "size": size, "fit_wall_s": 1.0, "fit_cpu_s": 2.0,
                        "grad_cosine": [(0, 0.2), (8, 0.1)] if setup.kind == "multitask" else [],
                        "task_weights": {t: 0.5 for t in setup.tasks}}
                seeds.append(SeedRun(arrays, meta))
            runs[("rel0.5", setup.key, size)] = seeds
    return runs


@pytest.fixture(scope="module")
def cfg():
    return IntakeConfig.from_dict({"train_sizes": [100, 200], "seeds": 3, "mtl_weights": [0.3, 0.7],
                                   "n_boot": 300})


def _accuracies(cfg, mtl_gain):
    acc = {}
    for s in study_setups(cfg):
        for t in s.tasks:
            acc[(s.key, t)] = 0.5 if s.kind != "xgb" else 0.4
            if s.key == "mtl_fixed_0.7":  # the best weighting on validation
                acc[(s.key, t)] = 0.5 + mtl_gain
    return acc


def test_transfer_table_sign_follows_the_data(cfg):
    rng = np.random.default_rng(1)
    pos = evaluate_study(cfg, _runs(cfg, _accuracies(cfg, +0.25), rng), study_setups(cfg))
    assert set(pos.selected_mtl.values()) == {"mtl_fixed_0.7"}  # chosen on validation
    sel = pos.transfer[pos.transfer.selected]
    assert len(sel) == 2 * len(TASKS) and (sel.verdict == "positive").all()
    assert (sel.ci_low > 0).all()
    neg = evaluate_study(cfg, _runs(cfg, _accuracies(cfg, -0.25), rng), study_setups(cfg))
    assert (neg.transfer[neg.transfer.mtl_setup == "mtl_fixed_0.7"].verdict == "negative").all()
    # costs: the two single-task Transformers are counted together
    c = pos.costs.set_index(["size", "setup"])
    assert c.loc[(100, TF_PAIR), "fit_cpu_s"] == pytest.approx(2 * 2.0 * cfg.seeds)
    assert not pos.grad_cosine.empty and set(pos.results.task) == set(TASKS)


def test_recommendation_is_computed_not_fixed(cfg):
    rng = np.random.default_rng(2)
    good_mtl = evaluate_study(cfg, _runs(cfg, _accuracies(cfg, +0.25), rng), study_setups(cfg))
    choice = choose_option(good_mtl, "rel0.5", 200, 0.95)
    assert choice["choice"] == "mtl" and choice["leader"] == {t: "mtl" for t in TASKS}
    text = recommendation(good_mtl, [100, 200], 0.95, "generated")
    assert "generated" in text and "one multi-task Transformer (mtl_fixed_0.7)" in text
    assert "**positive**" in text and "**negative**" not in text

    accs = _accuracies(cfg, -0.25)
    accs |= {("xgb", t): 0.8 for t in TASKS}
    good_xgb = evaluate_study(cfg, _runs(cfg, accs, rng), study_setups(cfg))
    text = recommendation(good_xgb, [100, 200], 0.95, "generated")
    assert "**Recommendation:** two XGBoost models" in text
    assert "**Recommendation:** one multi-task" not in text
    assert choose_option(good_xgb, "rel0.5", 200, 0.95)["leader"] == {t: "xgb" for t in TASKS}
