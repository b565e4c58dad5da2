"""Does the default search (Optuna TPE + ASHA) find what the grid finds, for less compute?

A fixed small space (2 backbones x 3 learning rates x 2 augmentation strengths, 4 epochs each) is
searched twice with the sweep's own plans (`triage_ray.xray.search`): the full grid, and
`optuna_asha` with 8 trials. Each trial trains on 3,000 generated studies held in Ray's object store
(plain PyTorch through `triage_ray.train.steps`, the Train worker's functions) and reports
validation AUROC on 1,500 held-out patients' studies after every epoch, as the sweep does.

Target: the search's best validation AUROC lies within the grid best's 95% CI, using at most 40% of
the grid's trial-epochs. Writes reports/benchmarks/search_efficiency.json; prints the compute
fraction last.

    .venv/bin/python benchmarks/search_efficiency.py            # ~15 min on 2 cores
    .venv/bin/python benchmarks/search_efficiency.py --smoke    # ~2 min, tiny space
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install
from triage_ray.train.reporting import epoch_counters  # noqa: E402
from triage_ray.xray.config import XrayConfig  # noqa: E402
from triage_ray.xray.search import SEARCHES, VAL_METRIC  # noqa: E402

OUT = Path(__file__).parents[1] / "reports" / "benchmarks" / "search_efficiency.json"
TARGET_FRACTION = 0.40
SPACE = dict(backbones=["resnet10t", "mobilenetv3_small_100"], lrs=[3e-4, 1e-3, 3e-3],
             augments=[0.0, 0.5], epochs=4, n_trials=8)
SMOKE_SPACE = dict(backbones=["mobilenetv3_small_050"], lrs=[1e-3, 1e-2], augments=[0.0],
                   epochs=2, n_trials=2)


def tiny_trial(config, *, data: dict, epochs: int, seed: int) -> None:
    """One trial: train on the shared arrays (tune.with_parameters keeps one copy in the object
    store), report validation AUROC (with its CI) per epoch."""
    import ray.tune
    import torch

    from triage_ray.calibrate.report import calibration_report
    from triage_ray.common.stats import sigmoid
    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.schedules import build_optimizer
    from triage_ray.train.steps import predict, train_epoch
    from triage_ray.train.supervision import get_supervision

    d = data
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    sup = get_supervision("binary")
    model = create_backbone(config["backbone"])
    mean, std = grayscale_normalisation(model)
    optimizer, schedule = build_optimizer(model, lr=config["lr"], weight_decay=1e-4, epochs=epochs)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    y = sup.targets(d["y_train"], np.array([""] * len(d["y_train"])))

    def batches():
        order = rng.permutation(len(y))
        for s in range(0, len(order), 64):
            b = order[s:s + 64]
            yield torch.from_numpy(d["x_train"][b] / np.float32(255)).unsqueeze(1), torch.from_numpy(y[b])

    val = [torch.from_numpy(d["x_val"][s:s + 256] / np.float32(255)).unsqueeze(1)
           for s in range(0, len(d["x_val"]), 256)]
    for epoch in range(epochs):
        train_epoch(model, batches(), optimizer, sup, mean=mean, std=std,
                    augment=config["augment"], generator=gen)
        schedule.after_epoch()
        p = sigmoid(predict(model, val, mean=mean, std=std)[:, 0])
        a = calibration_report(d["y_val"], p, n_boot=200, groups=d["g_val"])["auroc"]
        ray.tune.report({**epoch_counters(epoch, epochs), VAL_METRIC: a["value"],
                         "val_ci_low": a["ci_low"], "val_ci_high": a["ci_high"]})
    ray.tune.report({"final": 1, VAL_METRIC: a["value"], "val_ci_low": a["ci_low"],
                     "val_ci_high": a["ci_high"], "epochs_run": epochs})


def run(method: str, cfg: XrayConfig, data: dict, storage: Path) -> dict:
    from ray import tune

    plan = SEARCHES[method](cfg)
    trainable = tune.with_resources(
        tune.with_parameters(tiny_trial, data=data, epochs=cfg.epochs, seed=cfg.seed),
        {"cpu": 1})
    t0 = time.time()
    results = tune.Tuner(trainable, param_space=plan.param_space,
                         tune_config=tune.TuneConfig(max_concurrent_trials=1, **plan.tune_config),
                         run_config=tune.RunConfig(storage_path=str(storage), name=method,
                                                   verbose=0)).fit()
    trials = []
    for r in results:
        m = r.metrics or {}
        epochs = m.get("epochs_run") or m.get("epoch_done") or 0
        trials.append({"config": {k: r.config[k] for k in ("backbone", "lr", "augment")},
                       "epochs": int(epochs), "finished": bool(m.get("final")),
                       VAL_METRIC: m.get(VAL_METRIC), "val_ci_low": m.get("val_ci_low"),
                       "val_ci_high": m.get("val_ci_high")})
    best = max((t for t in trials if t[VAL_METRIC] is not None), key=lambda t: t[VAL_METRIC])
    return {"method": method, "seconds": time.time() - t0, "trials": trials, "best": best,
            "trial_epochs": sum(t["epochs"] for t in trials)}


def load_data(smoke: bool) -> dict:
    from triage_ray.xray.ablation import load_tree

    data = load_tree(1000 if smoke else 16_000, 64, seed=0)
    train = data.train_order(0)[: 400 if smoke else 3000]
    val = np.flatnonzero(data.test)[: 200 if smoke else 1500]
    return {"x_train": data.images[train], "y_train": data.written[train].astype(int),
            "x_val": data.images[val], "y_val": data.written[val].astype(int),
            "g_val": data.patient[val]}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    import tempfile

    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    cfg = XrayConfig.from_dict({**(SMOKE_SPACE if args.smoke else SPACE), "search": "optuna_asha"})
    data = load_data(args.smoke)
    with tempfile.TemporaryDirectory() as tmp:
        grid = run("grid", cfg, data, Path(tmp))
        search = run("optuna_asha", cfg, data, Path(tmp))
    ray.shutdown()
    fraction = search["trial_epochs"] / grid["trial_epochs"]
    reached = search["best"][VAL_METRIC] >= grid["best"]["val_ci_low"]
    out = {"benchmark": "search_efficiency", "smoke": args.smoke, "space": SMOKE_SPACE if args.smoke
           else SPACE, "grid": grid, "optuna_asha": search, "compute_fraction": fraction,
           "target_fraction": TARGET_FRACTION, "reached_grid_best_within_ci": bool(reached),
           "meets_target": bool(reached and fraction <= TARGET_FRACTION),
           "data": "GENERATED DATA (triage-ray's generator), written labels",
           "machine": {"python": platform.python_version(), "processor": platform.machine()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"grid: best val AUROC {grid['best'][VAL_METRIC]:.3f} (95% CI "
          f"{grid['best']['val_ci_low']:.3f}-{grid['best']['val_ci_high']:.3f}), "
          f"{grid['trial_epochs']} trial-epochs, {grid['seconds']:.0f} s")
    print(f"optuna_asha: best val AUROC {search['best'][VAL_METRIC]:.3f}, {search['trial_epochs']} "
          f"trial-epochs, {search['seconds']:.0f} s; within the grid best's CI: {reached}")
    print(f"wrote {args.out}")
    print(f"compute fraction (search / grid trial-epochs): {fraction:.2f} (target <= {TARGET_FRACTION})")
    return out


if __name__ == "__main__":
    main()
