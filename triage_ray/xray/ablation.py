"""Where the model's gap comes from: one-factor-at-a-time ablation on generated data.

Each arm changes one thing from `BASE` (the default run's training: written labels, 64 px, 8,000
training studies, 3 epochs, resnet10t, one binary logit, no augmentation) and is scored on the same
held-out patients against three label sets: the generator's truth, the written (NIH-style) labels
and the simulated reference panel. Training is plain PyTorch through `triage_ray.train.steps`, the
functions the Ray Train worker calls, so an arm measures the pipeline's training minus Ray.

Arms train on oracle truth only as a diagnostic: no real site has those labels.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.data.schema import NIH_FINDINGS

# The default run's training, and each arm as its change from it.
BASE: dict[str, Any] = dict(labels="written", image_size=64, n_train=8000, epochs=3,
                            backbone="resnet10t", supervision="binary", augment=0.0, lr=3e-3,
                            schedule="cosine", init="scratch")
ARMS: dict[str, dict[str, Any]] = {
    "base": {},
    "truth labels (diagnostic)": {"labels": "truth"},
    "panel labels (relabelled)": {"labels": "panel"},
    "truth, 16k, 10 epochs (diagnostic)": {"labels": "truth", "n_train": 16000, "epochs": 10},
    "128 px": {"image_size": 128},
    "2k train": {"n_train": 2000},
    "4k train": {"n_train": 4000},
    "16k train": {"n_train": 16000},
    "10 epochs": {"epochs": 10},
    "mobilenetv3_small_100": {"backbone": "mobilenetv3_small_100"},
    "per-finding labels": {"supervision": "multilabel"},
    "augmentation 0.5": {"augment": 0.5},
    "one-cycle schedule": {"schedule": "onecycle"},
    "pretrained": {"init": "pretrained"},
    "pretrained, 2k train": {"init": "pretrained", "n_train": 2000},
    "self-supervised (SimCLR)": {"init": "simclr"},
    "self-supervised, 2k train": {"init": "simclr", "n_train": 2000},
    "combined": {"supervision": "multilabel", "augment": 0.5, "n_train": 16000, "epochs": 10},
}
SMOKE_ARMS = ("base", "per-finding labels")
TEST_FRACTION = 0.2
BATCH_SIZE = 64
WEIGHT_DECAY = 1e-4


@dataclass(frozen=True)
class AblationData:
    """One generated tree in memory. Arrays are aligned by study; `test` marks held-out patients."""

    images: np.ndarray  # (N, H, W) uint8
    written: np.ndarray  # (N,) 0/1, the label a site would have
    truth: np.ndarray  # (N,) 0/1, the generator's truth (diagnostic only)
    panel: np.ndarray  # (N,) 0/1, the simulated 3-reader panel's majority
    findings: np.ndarray  # (N,) str, written findings "|"-joined
    true_findings: np.ndarray  # (N,) str, the generator's findings "|"-joined (diagnostic)
    patient: np.ndarray  # (N,) str
    test: np.ndarray  # (N,) bool
    root: str

    def train_order(self, seed: int) -> np.ndarray:
        """Training-pool indices in a fixed random order: an arm of size n takes the first n, so
        smaller training sets are nested in larger ones."""
        pool = np.flatnonzero(~self.test)
        return np.random.default_rng(seed).permutation(pool)


def load_tree(n_studies: int, image_size: int, *, seed: int = 0, log=print) -> AblationData:
    """Generate (or reuse from the cache) an NIH-layout tree and read it into memory."""
    from concurrent.futures import ThreadPoolExecutor

    from triage_ray.data.images import load_gray
    from triage_ray.data.nih import load_nih
    from triage_ray.data.splits import patient_split
    from triage_ray.data.synth import generate_nih_tree
    from triage_ray.xray.config import XrayConfig
    from triage_ray.xray.sources import generated_root, ground_truth

    cfg = XrayConfig(n_studies=n_studies, image_size=image_size, seed=seed)
    root = generated_root(cfg, "labelled", n_studies, None, seed)
    t0 = time.time()
    generate_nih_tree(root, n_studies, image_size=image_size, seed=seed)
    studies = load_nih(root)
    log(f"tree {root.name}: {len(studies)} studies ({time.time() - t0:.0f} s)")
    with ThreadPoolExecutor() as pool:
        images = np.stack(list(pool.map(lambda p: load_gray(p, image_size), studies["path"])))
    panel = pd.read_csv(root / "reference.csv").set_index("study_id")["reference_label"]
    ids = studies["study_id"].astype(str)
    gt = pd.read_csv(root / "ground_truth.csv", keep_default_na=False)
    true_findings = gt.set_index(gt["Image Index"].str.removesuffix(".png"))["true_findings"]
    split = patient_split(studies, {"train": 1 - TEST_FRACTION, "test": TEST_FRACTION}, seed=seed)
    return AblationData(
        images=images, written=studies["label"].to_numpy(np.int8),
        truth=ground_truth(root).reindex(ids).to_numpy().astype(np.int8),
        panel=panel.reindex(ids).to_numpy().astype(np.int8),
        findings=studies["findings"].astype(str).to_numpy(),
        true_findings=true_findings.reindex(ids).astype(str).to_numpy(),
        patient=studies["patient_id"].astype(str).to_numpy(),
        test=(split == "test").to_numpy(), root=str(root),
    )


def train_arm(data: AblationData, arm: dict[str, Any], *, seed: int = 0,
              log=print) -> tuple[np.ndarray, list[dict[str, float]], float]:
    """Train one arm; returns (test abnormal logits, per-epoch history, training seconds)."""
    import torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.schedules import build_optimizer
    from triage_ray.train.steps import array_batches, array_chunks, predict, train_epoch
    from triage_ray.train.supervision import get_supervision

    torch.manual_seed(seed)
    idx = data.train_order(seed)[: arm["n_train"]]
    if len(idx) < arm["n_train"]:
        raise ValueError(f"arm asks for {arm['n_train']} training studies; the tree has {len(idx)}")
    sup = get_supervision(arm["supervision"], NIH_FINDINGS)
    labels = {"truth": data.truth, "panel": data.panel, "written": data.written}[arm["labels"]]
    targets = sup.targets(labels[idx], data.findings[idx])
    init = arm.get("init", "scratch")
    weights = None if init == "scratch" else pretrained_weights(init)
    model = create_backbone(arm["backbone"], num_outputs=sup.n_outputs,
                            pretrained=weights is not None, weights_file=weights)
    mean, std = grayscale_normalisation(model)
    steps = -(-len(idx) // BATCH_SIZE)
    optimizer, schedule = build_optimizer(model, lr=arm["lr"], weight_decay=WEIGHT_DECAY,
                                          epochs=arm["epochs"], schedule=arm["schedule"],
                                          steps_per_epoch=steps)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    history, t0 = [], time.time()
    for epoch in range(arm["epochs"]):
        loss, _ = train_epoch(model, array_batches(data.images[idx], targets, BATCH_SIZE, rng),
                              optimizer, sup,
                              mean=mean, std=std, augment=arm["augment"], generator=gen,
                              schedule=schedule)
        schedule.after_epoch()
        history.append({"epoch": epoch, "train_loss": loss, "seconds": time.time() - t0})
        log(f"  epoch {epoch + 1}/{arm['epochs']}: loss {loss:.4f} ({time.time() - t0:.0f} s)")
    seconds = time.time() - t0
    test = np.flatnonzero(data.test)
    return (predict(model, array_chunks(data.images[test]), mean=mean, std=std)[:, 0], history,
            seconds)


def score_arm(data: AblationData, logit: np.ndarray, *, n_boot: int = 500,
              seed: int = 0) -> dict[str, Any]:
    """AUROC (95% patient-bootstrap CI) against truth, written labels and the panel; the truly
    abnormal share among the lowest-scored 1/5/10% (Clopper-Pearson 95%)."""
    from triage_ray.common.stats import sigmoid
    from triage_ray.xray.truth import auroc_against, low_end_abnormal

    t = data.test
    p = sigmoid(logit)
    labels = {"truth": data.truth[t], "written": data.written[t], "panel": data.panel[t]}
    out: dict[str, Any] = {"n_test": int(t.sum()),
                           **auroc_against(p, labels, groups=data.patient[t], n_boot=n_boot,
                                           seed=seed),
                           **low_end_abnormal(p, data.truth[t])}
    out["per_finding_auroc"] = per_finding_auroc(p, data.true_findings[t], data.truth[t])
    return out


MIN_FINDING_STUDIES = 30


def per_finding_auroc(p: np.ndarray, true_findings: np.ndarray,
                      truth: np.ndarray) -> dict[str, dict[str, float]]:
    """For each true finding: AUROC of the studies that have it against the truly normal ones.
    Which findings the model misses is where its gap lives (findings with < 30 test studies are
    left out: too few for a figure worth reading)."""
    from triage_ray.calibrate.metrics import auroc

    normal = truth == 0
    names = sorted({n for cell in true_findings for n in cell.split("|") if n})
    out = {}
    for name in names:
        has = np.array([name in cell.split("|") for cell in true_findings])
        if has.sum() >= MIN_FINDING_STUDIES:
            keep = has | normal
            out[name] = {"auroc": float(auroc(has[keep].astype(int), p[keep])), "n": int(has.sum())}
    return out


def run_ablation(out_dir: Path, *, arms: list[str], n_studies: int, seed: int = 0,
                 n_boot: int = 500, base: dict[str, Any] | None = None,
                 log=print) -> dict[str, Any]:
    """Run `arms` (names of ARMS), one at a time; each finished arm is written to
    `arms/<slug>.json` at once, and a rerun skips arms already there (resume after a kill).
    `base` overrides BASE for every arm (smoke runs shrink the training set and epochs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "arms").mkdir(exist_ok=True)
    trees: dict[int, AblationData] = {}
    results: dict[str, Any] = {}
    for name in arms:
        if name not in ARMS:
            raise ValueError(f"unknown arm {name!r}; choose from {list(ARMS)}")
        path = out_dir / "arms" / f"{slug(name)}.json"
        if path.is_file():
            results[name] = json.loads(path.read_text())
            log(f"{name}: done in an earlier run, kept")
            continue
        arm = {**BASE, **(base or {}), **ARMS[name]}
        size = arm["image_size"]
        if size not in trees:
            trees[size] = load_tree(n_studies, size, seed=seed, log=log)
        log(f"{name}: {arm}")
        logit, history, seconds = train_arm(trees[size], arm, seed=seed, log=log)
        row = {"arm": name, "config": arm, "seed": seed, "train_seconds": seconds,
               "history": history, "tree": trees[size].root,
               **score_arm(trees[size], logit, n_boot=n_boot, seed=seed)}
        path.write_text(json.dumps(row, indent=2))
        np.save(path.with_suffix(".logits.npy"), logit)  # test order: data.test, for re-analysis
        results[name] = row
        log(f"  AUROC truth {row['auroc_truth']['value']:.3f}, written "
            f"{row['auroc_written']['value']:.3f}, panel {row['auroc_panel']['value']:.3f}")
    return results


def pretrained_weights(init: str = "pretrained") -> Path:
    """The default pretraining's weights (`sweeps/pretrain.py`; init "simclr": `--method simclr`);
    an arm never trains them itself, so an ablation row's time is its fine-tuning only (the card
    states the pretraining cost)."""
    from triage_ray.xray.pretrain import PretrainConfig, cached

    simclr = init == "simclr"
    hit = cached(PretrainConfig.simclr() if simclr else PretrainConfig())
    if hit is None:
        raise FileNotFoundError(f"the {init} arms need the default pretraining: run "
                                f"`python sweeps/pretrain.py{' --method simclr' if simclr else ''}`"
                                " first")
    return hit


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
