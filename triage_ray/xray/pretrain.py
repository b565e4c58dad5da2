"""Pretrain a backbone on a differently distributed source corpus; write timm-loadable weights.

Why: no hub is reachable here, so the only pretrained weights a run can fine-tune are ones it makes.
The corpus is generated with its own seed, a different label mix (60% written-abnormal instead of
NIH's 46%) and subtler findings (difficulty 1.2), like a public data set from another hospital;
the network learns every written finding (per-finding supervision) through the same Ray Train
worker the sweep uses. The weights file holds the backbone's state dict: `create_backbone(...,
pretrained=True, weights_file=...)` loads it (timm drops the classifier, whose size differs).

Outputs are cached by their parameters under data/pretrained/<backbone>-<hash>/ (`common.paths`) (weights.pth,
card.json, card.md), like the generated trees: a second call with the same parameters returns at once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage_ray.common.paths import data_dir
from triage_ray.common.study_config import StudyConfig, check_choice
from triage_ray.xray.config import XrayConfig

METHODS = ("supervised", "simclr")
WEIGHTS_FILE = "weights.pth"
CARD_JSON = "card.json"
CARD_MD = "card.md"


@dataclass
class PretrainConfig(StudyConfig):
    """The source corpus and how the backbone is trained on it."""

    backbone: str = "resnet10t"
    n_studies: int = 24_000
    image_size: int = 64
    seed: int = 101  # the labelled set uses 0 and the pile 1: a disjoint corpus
    prevalence: float | None = 0.6  # written-abnormal share: another site's label mix
    difficulty: float = 1.2  # subtler findings than the default 1.0
    val_fraction: float = 0.05
    epochs: int = 4
    lr: float = 3e-3
    batch_size: int = 64
    supervision: str = "multilabel"
    augment: float = 0.3
    torch_threads: int | None = None
    out_root: str | None = None  # None: data_dir("pretrained") (TRIAGE_RAY_DATA_DIR or ./data)
    # METHODS: "supervised" (per-finding labels of the source corpus) or "simclr" (self-supervised
    # on the unlabeled pile: see `simclr`; no label read)
    method: str = "supervised"
    temperature: float = 0.5  # simclr's NT-Xent temperature

    @classmethod
    def simclr(cls, **overrides: Any) -> PretrainConfig:
        """Self-supervised on the run's own unlabeled pile: the generated 30k pile (seed 1, 40%
        abnormal, difficulty 1.0: the same tree `sweeps/xray.py` scores), 3 epochs, batch 128,
        views at full augmentation strength."""
        base: dict[str, Any] = dict(method="simclr", n_studies=30_000, seed=1, prevalence=0.4,
                                    difficulty=1.0, epochs=3, lr=1e-3, batch_size=128, augment=1.0)
        return cls.from_dict({**base, **overrides})

    def validate(self) -> None:
        from triage_ray.models import BACKBONES
        from triage_ray.train.supervision import SUPERVISIONS

        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("supervision", self.supervision, SUPERVISIONS)
        check_choice("method", self.method, METHODS)
        if self.n_studies < 20 or self.epochs < 1 or not 0 < self.val_fraction < 1:
            raise ValueError("n_studies >= 20, epochs >= 1 and val_fraction in (0, 1)")
        if not 0 <= self.augment <= 1:
            raise ValueError(f"augment must lie in [0, 1], got {self.augment}")

    def key(self) -> str:
        """The cache key: every parameter but where the cache lives (and, for weights made
        before `method` existed to stay valid, the method when it is the original "supervised")."""
        params = {k: v for k, v in self.to_dict().items() if k != "out_root"}
        if params["method"] == "supervised":
            params = {k: v for k, v in params.items() if k not in ("method", "temperature")}
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.backbone}-{digest}"

    def out_dir(self) -> Path:
        root = Path(self.out_root).resolve() if self.out_root else data_dir("pretrained")
        return root / self.key()


def cached(cfg: PretrainConfig) -> Path | None:
    """The weights file of an earlier run with the same parameters, if complete."""
    d = cfg.out_dir()
    card = d / CARD_JSON
    complete = (d / WEIGHTS_FILE).is_file() and card.is_file()
    defaults = {"method": "supervised", "temperature": 0.5}  # cards written before `method`
    if complete and {**defaults, **json.loads(card.read_text()).get("params", {})} == cfg.to_dict():
        return d / WEIGHTS_FILE
    return None


def pretrain(cfg: PretrainConfig, log=print, *, use_gpu: bool = False) -> Path:
    """Generate the corpus, train on it with Ray Train, write weights.pth and its card; returns
    the weights path. Needs Ray initialised (the sweep scripts' `start_ray`). use_gpu: train on
    one GPU (in float32); where it trains is not part of the cache key, what it learns is."""
    import torch

    from triage_ray.data.ingest import ingest_to_shards

    hit = cached(cfg)
    if hit:
        log(f"pretrained weights cached: {hit}")
        return hit
    out = cfg.out_dir()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    studies, corpus = _corpus(cfg, log)
    shard_dir = out / "shards"
    ingest = ingest_to_shards(studies, shard_dir, image_size=cfg.image_size, overwrite=True)
    corpus.update(n_studies=ingest.n_out, skipped=len(ingest.skipped))
    t_data = time.time() - t0
    log(f"pretraining corpus: {ingest.n_out} studies ({t_data:.0f} s to generate and ingest)")
    t1 = time.time()
    train = _train_simclr if cfg.method == "simclr" else _train_supervised
    state, history, method = train(cfg, shard_dir, out, use_gpu)
    t_train = time.time() - t1
    torch.save(state, out / WEIGHTS_FILE)
    card = {"params": cfg.to_dict(), "weights": str(out / WEIGHTS_FILE), "corpus": corpus,
            "method": method, "history": history,
            "seconds": {"data": t_data, "train": t_train, "total": time.time() - t0}}
    (out / CARD_JSON).write_text(json.dumps(card, indent=2))
    (out / CARD_MD).write_text(card_markdown(card))
    shutil.rmtree(shard_dir)  # the generated tree stays cached; the shards are cheap to remake
    log(f"pretrained {cfg.backbone} ({cfg.method}) in {t_train:.0f} s -> {out / WEIGHTS_FILE}")
    return out / WEIGHTS_FILE


def _corpus(cfg: PretrainConfig, log) -> tuple[Any, dict[str, Any]]:
    """The study table to pretrain on, and what the card says of it. Supervised: a labelled
    corpus of its own seed and label mix, split train/calib. SimCLR: the run's generated pile
    (the same cached tree `sweeps/xray.py` scores), loaded without labels."""
    from triage_ray.data.nih import load_nih
    from triage_ray.data.splits import patient_split
    from triage_ray.data.synth import generate_nih_tree
    from triage_ray.xray.sources import generate_tree, generated_root

    if cfg.method == "simclr":
        like = XrayConfig(image_size=cfg.image_size, difficulty=cfg.difficulty)
        root = generated_root(like, "pile", cfg.n_studies, cfg.prevalence, cfg.seed)
        gen = generate_tree(root, cfg.n_studies, cfg.prevalence, cfg.seed, like, log)
        studies = load_nih(root, labels=False)
        return studies, {"root": str(root), "generated": True, "labels_read": False,
                         "written_abnormal_rate": None, "true_abnormal_rate": gen.true_abnormal_rate}
    root = data_dir("generated") / (
        f"pretrain-n{cfg.n_studies}-px{cfg.image_size}-d{cfg.difficulty}-p{cfg.prevalence}-s{cfg.seed}")
    gen = generate_nih_tree(root, cfg.n_studies, image_size=cfg.image_size, seed=cfg.seed,
                            prevalence=cfg.prevalence, difficulty=cfg.difficulty, ceiling_sample=0)
    studies = load_nih(root)
    studies["split"] = patient_split(studies, {"train": 1 - cfg.val_fraction,
                                               "calib": cfg.val_fraction}, seed=cfg.seed).to_numpy()
    return studies, {"root": str(root), "generated": True, "labels_read": True,
                     "written_abnormal_rate": float((studies["label"] == 1).mean()),
                     "true_abnormal_rate": gen.true_abnormal_rate,
                     "splits": studies["split"].value_counts().to_dict()}


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _train_supervised(cfg: PretrainConfig, shard_dir: Path, out: Path, use_gpu: bool):
    """Per-finding supervised training through the sweep's own Train worker."""
    import torch

    from triage_ray.data.schema import NIH_FINDINGS
    from triage_ray.train.fit import build_trainer
    from triage_ray.train.loop import META_FILE, MODEL_FILE

    train_cfg = XrayConfig.from_dict({
        "epochs": cfg.epochs, "batch_size": cfg.batch_size, "supervision": cfg.supervision,
        "seed": cfg.seed, "torch_threads": cfg.torch_threads, "image_size": cfg.image_size,
        "use_gpu": use_gpu, "time_budget_min": None})
    result = build_trainer(train_cfg, {"backbone": cfg.backbone, "lr": cfg.lr, "init": "scratch",
                                       "augment": cfg.augment}, str(shard_dir),
                           vocabulary=NIH_FINDINGS, storage_path=str(out / "train"),
                           name="pretrain").fit()
    ckpt = Path(result.checkpoint.path)
    state = torch.load(ckpt / MODEL_FILE, map_location="cpu", weights_only=True)["model"]
    history = json.loads((ckpt / META_FILE).read_text()).get("history", [])
    method = (f"supervised, {cfg.supervision} (abnormal + {len(NIH_FINDINGS)} written "
              f"findings), {_epochs(cfg.epochs)}, AdamW lr {cfg.lr:g}, augmentation "
              f"{cfg.augment:g}, {cfg.image_size} px")
    return state, history, method


def _train_simclr(cfg: PretrainConfig, shard_dir: Path, out: Path, use_gpu: bool):
    """SimCLR on the unlabeled shards (`train.ssl`); no label is read."""
    import torch

    from triage_ray.train.ssl import META_FILE, MODEL_FILE, build_ssl_trainer

    result = build_ssl_trainer(
        {"backbone": cfg.backbone, "lr": cfg.lr, "weight_decay": 1e-4, "epochs": cfg.epochs,
         "batch_size": cfg.batch_size, "augment": cfg.augment, "temperature": cfg.temperature,
         "seed": cfg.seed, "torch_threads": cfg.torch_threads},
        str(shard_dir), storage_path=str(out / "train"), name="pretrain-simclr",
        use_gpu=use_gpu).fit()
    ckpt = Path(result.checkpoint.path)
    state = torch.load(ckpt / MODEL_FILE, map_location="cpu", weights_only=True)["model"]
    history = json.loads((ckpt / META_FILE).read_text())["history"]
    method = (f"self-supervised SimCLR (lightly NT-Xent, temperature {cfg.temperature:g}), no "
              f"labels read, {_epochs(cfg.epochs)}, AdamW lr {cfg.lr:g}, batch {cfg.batch_size}, "
              f"views at augmentation {cfg.augment:g}, {cfg.image_size} px")
    return state, history, method


def for_run(cfg: XrayConfig, backbone: str) -> PretrainConfig:
    """The pretraining a run's "pretrain" init asks for: supervised on a source corpus of
    pretrain_studies, or SimCLR on the run's own generated pile (its size, seed and prevalence)."""
    if cfg.pretrain_method == "simclr":
        return PretrainConfig.simclr(backbone=backbone, image_size=cfg.image_size,
                                     n_studies=cfg.pile_size, seed=cfg.seed + 1,
                                     prevalence=cfg.pile_prevalence, difficulty=cfg.difficulty,
                                     epochs=cfg.pretrain_epochs, torch_threads=cfg.torch_threads)
    return PretrainConfig(backbone=backbone, image_size=cfg.image_size,
                          n_studies=cfg.pretrain_studies, epochs=cfg.pretrain_epochs,
                          torch_threads=cfg.torch_threads)


def smoke_overrides(method: str = "supervised") -> dict[str, Any]:
    """What `sweeps/pretrain.py --smoke` changes. Supervised: exactly the pretraining the smoke
    study asks for (`for_run` of `XrayConfig.smoke_config()`), so a smoke pretraining made first is
    the cache entry `sweeps/xray.py --smoke` then finds, not a second set of weights. SimCLR: 800
    studies of the pile's tree, 1 epoch (the smoke study's pile is 2,000, a slower first try)."""
    if method == "simclr":
        return {"n_studies": 800, "epochs": 1}
    smoke = XrayConfig.smoke_config()
    return {"n_studies": smoke.pretrain_studies, "epochs": smoke.pretrain_epochs}


def pretrain_backbones(cfg: XrayConfig, log=print) -> dict[str, dict[str, Any]]:
    """The pipeline's pretrain stage: weights for every backbone the sweep may start from
    "pretrain" (made once, then cached by their parameters); {} when no init asks for them.
    Each entry: weights (path), cached (whether an earlier run made them), card (card.json)."""
    if "pretrain" not in cfg.init_choices():
        return {}
    if cfg.source != "generated":
        log(f"WARNING: init 'pretrain' pretrains on generated images, and this run's source is "
            f"{cfg.source!r}: for real radiographs prefer hub weights or a weights_file")
    out: dict[str, dict[str, Any]] = {}
    for backbone in cfg.backbones:
        pcfg = for_run(cfg, backbone)
        hit = cached(pcfg)
        weights = hit or pretrain(pcfg, log=log, use_gpu=cfg.use_gpu)
        out[backbone] = {"weights": str(weights), "cached": hit is not None,
                         "card": json.loads((weights.parent / CARD_JSON).read_text())}
    return out


def card_markdown(card: dict[str, Any]) -> str:
    """The weights' short card: data, method, per-epoch losses, time."""
    c, s, params = card["corpus"], card["seconds"], card["params"]
    labels = (f"written-abnormal rate {c['written_abnormal_rate']:.1%} (true "
              f"{c['true_abnormal_rate']:.1%}); splits {c.get('splits')}"
              if c.get("labels_read", True) else
              f"unlabeled: no label read (true abnormal rate {c['true_abnormal_rate']:.1%})")
    lines = [f"# Pretrained weights: {params['backbone']}", "",
             "GENERATED DATA: the source corpus was synthesised by triage-ray's generator.", "",
             f"- Data: {c['n_studies']:,} generated studies ({c['root']}), {labels}; "
             f"difficulty {params['difficulty']}, seed {params['seed']}.",
             f"- Method: {card['method']}.",
             f"- Time: {s['data']:.0f} s data, {s['train']:.0f} s training, {s['total']:.0f} s in all.",
             f"- Weights: `{card['weights']}` (the backbone's state dict; load with "
             "`create_backbone(name, pretrained=True, weights_file=...)`).", ""]
    supervised = all("val_loss" in h for h in card["history"])
    if supervised:
        lines += ["| epoch | train loss | validation loss | validation AUROC (written labels) |",
                  "|---|---|---|---|"]
        lines += [f"| {h['epoch_done']} | {h['train_loss']:.4f} | {h['val_loss']:.4f} | "
                  f"{h['val_auroc']:.3f} |" for h in card["history"]]
    else:
        lines += ["| epoch | contrastive (NT-Xent) loss |", "|---|---|"]
        lines += [f"| {h['epoch_done']} | {h['train_loss']:.4f} |" for h in card["history"]]
    return "\n".join(lines) + "\n"
