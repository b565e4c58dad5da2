"""The X-ray study's configuration: every default in one visible place, saved beside every run.

`XrayConfig.from_dict` rejects unknown keys and wrong value types, and `validate` checks every
registered choice (source, backbones, calibrator, threshold rules, simulation policy, uncertain
order) against its registry, so a typo fails at start-up naming the allowed values instead of
inside a Tune trial after ingest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage_ray.common.study_config import StudyConfig, check_choice

INITS = ("scratch", "pretrain", "file", "hub")  # how a trial's backbone starts: XrayConfig.inits
FINETUNES = ("full", "probe_then_full")  # how pretrained weights are fine-tuned
# Saved with every run; `resumed_config` fills an older config (no config_version key) with the
# values it ran under, not today's defaults: its checkpoints were trained under those.
CONFIG_VERSION = 3
LEGACY_V1 = {"supervision": "binary", "search": "grid", "augments": [0.0], "augment": 0.0,
             "schedule": "cosine", "finetune": "full", "learning_curve_sizes": []}
LEGACY_V2 = {"time_budget_min": None}  # before 3, runs trained as configured, with no budget

# Staffing in the brief: 3 radiologists x 6 reading hours/day x 60 reads/h (1,080 reads/day).
RADIOLOGISTS = 3
READING_HOURS_PER_DAY = 6.0
READS_PER_HOUR = 60.0


@dataclass
class XrayConfig(StudyConfig):
    """Defaults describe the study as asked (4 trials of up to 8 epochs, 4 pretraining epochs);
    `time_budget_min` fits its training into the machine at hand (xray.budget); `smoke()` shrinks
    everything to < 5 min."""

    # data: a registered source (triage_ray.xray.sources.SOURCES): "generated" writes an NIH-layout
    # tree; "nih" / "chexpert" / "generic" read a local copy at data_root
    source: str = "generated"
    data_root: str | None = None
    labels_csv: str | None = None  # generic source: path/patient_id/label CSV (data_root/labels.csv)
    # chexpert / mimic: what an uncertain (-1) finding means: "ignore" (the study is dropped unless
    # another finding is positive; counted in the load report), "zeros" or "ones" (Irvin et al. 2019)
    uncertain_labels: str = "ignore"
    mimic_labeler: str = "chexpert"  # mimic: MIMIC-CXR's CheXpert- or NegBio-labeller table
    n_studies: int = 16_000  # labelled studies to generate (train/calib/select/test)
    pile_size: int = 30_000  # unlabeled studies to score
    pile_prevalence: float | None = 0.40  # generated pile's abnormal rate (NIH table: 0.462) -> a shift
    pile_root: str | None = None  # a real unlabeled pile instead of a generated one
    pile_source: str = "nih"  # pile_root's layout: "nih" (Data_Entry CSV + PNGs) | "dicom" (a PACS export)
    # overrides of the intended use the gate enforces and the memo states (gate.IntendedUse), e.g.
    # {"min_age_years": 16, "views": ["PA"]}; {} is the validated default
    intended_use: dict[str, Any] = field(default_factory=dict)
    image_size: int = 64
    # searched input sizes (the search's resolution axis); None: image_size alone. With several,
    # generated trees are drawn at the largest and ingest resizes down. One size by default: 128 px
    # was no better than 64 px (0.820 vs 0.830 AUROC against the truth) at 2.7x the training time
    # (reports/ablation/full/ablation.md)
    image_sizes: list[int] | None = None
    difficulty: float = 1.0
    seed: int = 0
    # `select` is large on purpose: certifying "abnormal <= 1% among auto-normal" at 95% confidence
    # needs several hundred selection studies below t_low (Clopper-Pearson: >= 299 with no abnormal).
    splits: dict[str, float] = field(
        default_factory=lambda: {"train": 0.5, "calib": 0.1, "select": 0.3, "test": 0.1}
    )
    # model and training (searched: backbones, lrs, augments, inits). resnet10t alone by default:
    # mobilenetv3_small_100 reached 0.756 AUROC against the truth where resnet10t reached 0.830
    # (reports/ablation/full/ablation.md), and each searched backbone needs its own pretraining
    backbones: list[str] = field(default_factory=lambda: ["resnet10t"])
    lrs: list[float] = field(default_factory=lambda: [1e-3, 3e-3])
    pretrained: bool = False  # no weights are reachable offline by default; see weights_file
    weights_file: str | None = None  # a local timm/torch weights file used when pretrained=True
    # the sweep's initialisation axis (INITS): "scratch"; "pretrain" (each backbone pretrained by
    # triage_ray.xray.pretrain on a generated source corpus, made once and cached under
    # data/pretrained/); "file" (weights_file: a timm/torch state dict or a torchxrayvision
    # checkpoint); "hub" (timm's hub weights, where reachable). None picks by measurement: for
    # generated data "pretrain" (it beat scratch at 2k and 8k training studies: 0.835 vs 0.811 and
    # 0.855 vs 0.830 AUROC against the truth, reports/ablation/full/); for a real source the one
    # init that pretrained / weights_file name (pretraining on generated images suits generated data)
    inits: list[str] | None = None
    # the "pretrain" init (xray.pretrain): "supervised" on a generated source corpus of
    # pretrain_studies, or "simclr", self-supervised on this run's own unlabeled pile
    pretrain_method: str = "supervised"
    pretrain_studies: int = 24_000
    pretrain_epochs: int = 4
    # "full": every layer trains from the first epoch; "probe_then_full": the first probe_epochs
    # train the head alone on frozen features (BatchNorm statistics frozen too), then every layer
    finetune: str = "full"
    probe_epochs: int = 1
    # 8 epochs, per-finding supervision and augmentation, from `sweeps/ablation.py` (its table:
    # reports/ablation/full/ablation.md): alone each did nothing at 3 epochs; together with more
    # epochs and data they gained 0.04 AUROC against the truth
    epochs: int = 8
    # what the network predicts (triage_ray.train.SUPERVISIONS): "binary" (one abnormal logit) or
    # "multilabel" (the abnormal logit plus one per written finding); output 0 is always abnormal
    supervision: str = "multilabel"
    augment: float = 0.0  # chest augmentation strength in [0, 1] (triage_ray.train.augment)
    schedule: str = "cosine"  # learning-rate schedule (triage_ray.train.steps.SCHEDULES)
    # how the sweep searches (triage_ray.xray.search.SEARCHES): "grid" = backbones x lrs x
    # augments; "optuna_asha" = n_trials Optuna (TPE) samples over backbones, the lrs range and the
    # augments range, weak trials stopped by ASHA on per-epoch validation AUROC
    search: str = "optuna_asha"
    augments: list[float] = field(default_factory=lambda: [0.0, 0.5])
    # 4 trials: a full 8-epoch resnet10t trial took 7 to 17 min on 2 cores (measured), so the
    # time budget below usually cuts them on a laptop
    n_trials: int = 4
    # the run's wall-clock budget in minutes (triage_ray.xray.budget): before training, the speed
    # of every searched backbone and size is measured on the run's shards and, if the configured
    # training would not fit, the run cuts sweep trials (down to 2), then learning-curve epochs
    # (down to 1), then skips the learning curve, then cuts pretraining epochs, then sweep epochs
    # (each down to 1); `budget` in metrics.json says what it cut. None: everything as
    # configured, however long that takes. 24 min: `make demo` (~4 min of set-up included)
    # inside 30 min on 2 cores
    time_budget_min: float | None = 24.0
    asha_grace_epochs: int = 1
    asha_reduction_factor: int = 3
    batch_size: int = 64
    weight_decay: float = 1e-4
    # Ray Train workers per trial; 0 (GPU runs only): one per GPU of a node, counted at start-up
    num_workers: int = 1
    # Fractions on purpose: on a 2-core box a 1-CPU trial + 1-CPU worker leaves no CPU for Ray Data's
    # read tasks and the sweep hangs (measured); torch still uses every core via torch_threads.
    cpus_per_worker: float = 0.5
    cpus_per_trial: float = 0.5
    max_concurrent_trials: int = 1
    # None: the node's cores shared by the Train workers that may run at once (train.threads)
    torch_threads: int | None = None
    use_gpu: bool = False
    # a step's arithmetic (triage_ray.train.precision): "fp32"; "bf16" (autocast to bfloat16: GPUs
    # from Ampere on, or a CPU); "fp16" (autocast with loss scaling: older GPUs). channels_last:
    # convolutions' memory format, faster on tensor cores. Both apply to training and pile scoring.
    precision: str = "fp32"
    channels_last: bool = False
    # the preset this config started from (`--profile`, xray.profiles); None: the laptop default
    profile: str | None = None
    # the reference standard the bound is certified against (triage_ray.xray.reference.REFERENCES):
    # "auto" = the simulated panel for generated data, else the written labels (a floor no model
    # can beat: set "csv" with reference_labels, or "google2019" for NIH, to certify for real).
    reference: str = "auto"
    reference_labels: str | None = None  # reference="csv": study_id,reference_label[,n_readers]
    # Adjudicated studies. Why 3,000 of `select`: Clopper-Pearson at 95% needs >= 299 auto-normal
    # studies with no abnormal among them to certify 1% (473 with one, 1,049 with five); at an
    # auto-normal share of 10-20% that is 1,500-3,000 adjudicated studies. 1,000 of `test` check
    # the chosen point out of sample. Each costs reference reads (3 for the simulated panel).
    reference_size: int = 3000
    reference_test_size: int = 1000
    # calibration (triage_ray.calibrate.CALIBRATORS), fitted on `calib`
    calibrator: str = "temperature"
    # abstention (rules: triage_ray.abstain.T_LOW_RULES / T_HIGH_RULES) and simulation
    t_low_rule: str = "ltt_fixed_sequence"
    t_high_rule: str = "ppv"
    capacity_fraction: float | None = None  # t_high_rule="capacity": share of studies put first
    alpha: float = 0.01  # max abnormal rate among auto-normal studies
    delta: float = 0.05  # 1 - confidence of that bound
    target_ppv: float = 0.9  # priority bucket precision target
    # inside the uncertain bucket: "expected_wait_harm" (most likely abnormal first; every study is
    # read) or "harm_if_unread" (for a room that cannot read the bucket); triage_ray.abstain.worklist
    uncertain_order: str = "expected_wait_harm"
    sim_policy: str = "auto_clear"  # sim.POLICIES
    audit_fraction: float = 0.05
    aging_cap_days: float | None = None
    sim_reps: int = 10
    # the operating-point stage (triage_ray.xray.operating): a Tune grid over how the chosen model
    # is used, each point certified at its own alpha on the `select` reference set and simulated.
    # 4 x 3 x 2 x 2 x 2 = 96 points by default.
    op_alphas: list[float] = field(default_factory=lambda: [0.005, 0.01, 0.02, 0.05])
    op_audit_fractions: list[float] = field(default_factory=lambda: [0.02, 0.05, 0.10])
    op_priority_rules: list[str] = field(default_factory=lambda: ["ppv", "capacity"])
    op_capacity_fraction: float = 0.2  # priority share for the "capacity" rule when none is set
    op_aging_caps_days: list[float | None] = field(default_factory=lambda: [None, 7.0])
    op_uncertain_orders: list[str] = field(
        default_factory=lambda: ["expected_wait_harm", "harm_if_unread"])
    op_sim_reps: int = 3
    op_cpus_per_trial: float = 0.25
    op_max_concurrent: int = 8
    # the recommended point's worst normal wait may be at most this many times first-come-first-
    # served's (Baltruschat et al. 2021: prioritising raised the maximum wait 890 -> 1,293 min)
    max_normal_wait_ratio: float = 1.5
    # a steady daily inflow for the break-even day of the reference set (studies per day)
    inflow_per_day: float = 1080.0
    radiologists: int = RADIOLOGISTS
    hours_per_day: float = READING_HOURS_PER_DAY
    reads_per_hour: float = READS_PER_HOUR
    reading_days_per_week: int = 5  # the rota: reading days per 7-day week (7: every day)
    # the learning curve (xray.learning_curve): the chosen trial's settings retrained on nested
    # subsets of the training split, from scratch and from the chosen init, for this many epochs
    learning_curve_sizes: list[int] = field(default_factory=lambda: [1000, 2000, 4000])
    learning_curve_epochs: int = 3
    # study-bootstrap replicates behind every interval in the memo (xray.uncertainty)
    uncertainty_boot: int = 500
    # bookkeeping
    config_version: int = CONFIG_VERSION
    reports_dir: str = "reports/xray"
    run_id: str | None = None
    smoke: bool = False

    @classmethod
    def smoke_config(cls, **overrides: Any) -> XrayConfig:
        """Tiny sizes that exercise every stage in < 5 min on 2 cores."""
        base = dict(
            n_studies=1200, pile_size=2000, epochs=1, sim_reps=3, smoke=True, n_trials=4,
            backbones=["resnet10t", "mobilenetv3_small_050"], lrs=[1e-3, 3e-3],
            op_alphas=[0.01, 0.05], op_audit_fractions=[0.05], op_aging_caps_days=[None, 7.0],
            op_uncertain_orders=["expected_wait_harm"], pretrain_studies=400, pretrain_epochs=1,
            learning_curve_sizes=[150, 300], learning_curve_epochs=1, image_sizes=[48, 64],
            uncertainty_boot=40, time_budget_min=None,
        )
        base.update(overrides)
        return cls.from_dict(base)

    def input_sizes(self) -> list[int]:
        """The input sizes the sweep tries (see `image_sizes`), smallest first."""
        return sorted(set(self.image_sizes)) if self.image_sizes else [self.image_size]

    @property
    def source_image_size(self) -> int:
        """The size generated trees are drawn at: the largest input size."""
        return max(self.input_sizes())

    def init_choices(self) -> list[str]:
        """The initialisations the sweep tries (see `inits`)."""
        if self.inits:
            return list(self.inits)
        if self.source == "generated" and not self.pretrained:
            return ["pretrain"]
        if not self.pretrained:
            return ["scratch"]
        return ["file" if self.weights_file else "hub"]

    @property
    def reference_source(self) -> str:
        """`reference` with "auto" resolved: the panel for generated data, else written labels."""
        if self.reference != "auto":
            return self.reference
        return "panel" if self.source == "generated" else "written"

    def validate(self) -> None:
        from sim.policies import POLICIES
        from triage_ray.abstain import T_HIGH_RULES, T_LOW_RULES, UNCERTAIN_ORDERS
        from triage_ray.calibrate import CALIBRATORS
        from triage_ray.data.chexpert import UNCERTAIN_POLICIES
        from triage_ray.data.mimic import LABEL_FILES as MIMIC_LABELERS
        from triage_ray.gate import IntendedUse
        from triage_ray.models import BACKBONES
        from triage_ray.train.precision import PRECISIONS
        from triage_ray.train.schedules import SCHEDULES
        from triage_ray.train.supervision import SUPERVISIONS
        from triage_ray.xray.reference import REFERENCES
        from triage_ray.xray.search import SEARCHES
        from triage_ray.xray.sources import PILE_SOURCES, SOURCES

        check_choice("source", self.source, SOURCES)
        check_choice("uncertain_labels", self.uncertain_labels, UNCERTAIN_POLICIES)
        check_choice("mimic_labeler", self.mimic_labeler, MIMIC_LABELERS)
        check_choice("pile_source", self.pile_source, PILE_SOURCES)
        IntendedUse.from_dict(self.intended_use)  # unknown keys or bad values fail here
        if self.pile_source != "nih" and not self.pile_root:
            raise ValueError(f"pile_source={self.pile_source!r} needs pile_root (the pile's folder)")
        check_choice("reference", self.reference, [*REFERENCES, "auto"])
        if self.reference_source == "chexpert_valid" and self.source != "chexpert":
            raise ValueError("reference='chexpert_valid' needs source='chexpert'")
        if self.reference_source == "panel" and self.source != "generated":
            raise ValueError("reference='panel' is the generated data's simulated panel; for "
                             f"source={self.source!r} use 'csv' (reference_labels=...), "
                             "'google2019' (NIH) or 'written'")
        if self.reference_source == "csv" and not self.reference_labels:
            raise ValueError("reference='csv' needs reference_labels (a CSV of study_id, "
                             "reference_label)")
        if SOURCES[self.source].needs_data_root and not self.data_root:
            raise ValueError(f"source={self.source!r} needs data_root (a local copy of the data set)")
        if not self.backbones:
            raise ValueError("backbones must name at least one backbone")
        for name in self.backbones:
            check_choice("backbones", name, BACKBONES)
        if not self.lrs or any(lr <= 0 for lr in self.lrs):
            raise ValueError(f"lrs must be positive learning rates, got {self.lrs}")
        check_choice("calibrator", self.calibrator, CALIBRATORS)
        check_choice("supervision", self.supervision, SUPERVISIONS)
        check_choice("search", self.search, SEARCHES)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("precision", self.precision, PRECISIONS)
        if self.profile is not None:
            from triage_ray.xray.profiles import PROFILES

            check_choice("profile", self.profile, PROFILES)
        if self.num_workers < 0 or (self.num_workers == 0 and not self.use_gpu):
            raise ValueError(f"num_workers must be >= 1 (0, one per GPU, needs use_gpu=true), "
                             f"got {self.num_workers}")
        if self.precision == "fp16" and not self.use_gpu:
            raise ValueError("precision 'fp16' needs use_gpu=true (float16 autocast is a GPU "
                             "feature); on a CPU use 'bf16' or 'fp32'")
        if self.use_gpu and self.time_budget_min is not None:
            raise ValueError("time_budget_min measures training speed on the driver's CPU, which "
                             "says nothing of a GPU's: with use_gpu=true set time_budget_min=null "
                             "(--profile gpu does) and size epochs and trials yourself")
        for a in (self.augment, *self.augments):
            if not 0 <= a <= 1:
                raise ValueError(f"augmentation strengths must lie in [0, 1], got {a}")
        if not self.augments:
            raise ValueError("augments must hold at least one strength (e.g. [0.0])")
        if self.time_budget_min is not None and not self.time_budget_min > 0:
            raise ValueError(f"time_budget_min must be positive minutes or null, got "
                             f"{self.time_budget_min}")
        if self.n_trials < 1 or self.asha_grace_epochs < 1 or self.asha_reduction_factor < 2:
            raise ValueError("n_trials >= 1, asha_grace_epochs >= 1, asha_reduction_factor >= 2")
        check_choice("t_low_rule", self.t_low_rule, T_LOW_RULES)
        check_choice("t_high_rule", self.t_high_rule, T_HIGH_RULES)
        check_choice("sim_policy", self.sim_policy, POLICIES)
        check_choice("uncertain_order", self.uncertain_order, UNCERTAIN_ORDERS)
        for name, values, allowed in (("op_priority_rules", self.op_priority_rules, T_HIGH_RULES),
                                      ("op_uncertain_orders", self.op_uncertain_orders,
                                       UNCERTAIN_ORDERS)):
            for v in values:
                check_choice(name, v, allowed)
        if any(not 0 < a < 1 for a in self.op_alphas) or not self.op_alphas:
            raise ValueError(f"op_alphas must lie in (0, 1), got {self.op_alphas}")
        if any(not 0 <= a <= 1 for a in self.op_audit_fractions) or not self.op_audit_fractions:
            raise ValueError(f"op_audit_fractions must lie in [0, 1], got {self.op_audit_fractions}")
        if abs(sum(self.splits.values()) - 1.0) > 1e-6 or set(self.splits) != {
            "train", "calib", "select", "test"
        }:
            raise ValueError(f"splits must be train/calib/select/test summing to 1: {self.splits}")
        if not 0 < self.alpha < 1 or not 0 < self.delta < 1:
            raise ValueError("alpha and delta must lie in (0, 1)")
        for init in self.init_choices():
            check_choice("inits", init, INITS)
        if any(px < 16 for px in self.input_sizes()) or self.image_size not in self.input_sizes():
            raise ValueError(f"image_sizes {self.image_sizes} must be >= 16 px each and include "
                             f"image_size ({self.image_size})")
        check_choice("finetune", self.finetune, FINETUNES)
        check_choice("pretrain_method", self.pretrain_method, ("supervised", "simclr"))
        if self.finetune == "probe_then_full":
            if not 1 <= self.probe_epochs < self.epochs:
                raise ValueError(f"probe_epochs must be >= 1 and < epochs ({self.epochs})")
            if self.num_workers > 1:
                raise ValueError("finetune='probe_then_full' needs num_workers=1 (frozen layers "
                                 "would leave DistributedDataParallel without their gradients)")
        if self.pretrain_studies < 20 or self.pretrain_epochs < 1:
            raise ValueError("pretrain_studies >= 20 and pretrain_epochs >= 1")
        if any(n < 20 for n in self.learning_curve_sizes) or self.learning_curve_epochs < 1:
            raise ValueError("learning_curve_sizes must be >= 20 studies each and "
                             "learning_curve_epochs >= 1 (an empty list skips the curve)")
        if "file" in self.init_choices() and not self.weights_file:
            raise ValueError("init 'file' needs weights_file (e.g. from sweeps/pretrain.py)")
        uses_file = self.pretrained or "file" in self.init_choices()
        if uses_file and self.weights_file and not Path(self.weights_file).is_file():
            raise FileNotFoundError(f"weights_file not found: {self.weights_file}")


def legacy_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A config saved before CONFIG_VERSION 2, with the values it ran under filled in."""
    out = {**LEGACY_V1, **raw, "config_version": 1}
    if out.get("inits") is None:  # before 2, no inits meant the one init pretrained names
        out["inits"] = (["file" if out.get("weights_file") else "hub"] if out.get("pretrained")
                        else ["scratch"])
    return out


def resumed_config(saved: Path, overrides: dict[str, Any], *, smoke: bool = False) -> XrayConfig:
    """The saved config of a run being resumed; overrides that would change it are refused.

    Why refuse rather than apply: a resumed run restores its Tune experiment and its training
    checkpoints, which were made under the saved values; mixing in new ones would report figures
    of a configuration that never ran. Overrides equal to the saved values are accepted.
    """
    if not saved.is_file():
        raise FileNotFoundError(f"{saved}: not found (is {saved.parent} a run directory?)")
    raw = json.loads(saved.read_text())
    if "config_version" not in raw:
        raw = legacy_config(raw)
    if raw["config_version"] < 3:
        raw = {**LEGACY_V2, **raw}
    cfg = XrayConfig.from_dict(raw)
    if smoke and not cfg.smoke:
        raise ValueError(f"--smoke with --resume: {saved.parent} is not a smoke run")
    XrayConfig.from_dict({**cfg.to_dict(), **overrides})  # unknown keys / bad values fail as usual
    changed = {k: (cfg.to_dict()[k], v) for k, v in overrides.items() if cfg.to_dict()[k] != v}
    if changed:
        listed = ", ".join(f"{k}: saved {old!r}, asked {new!r}" for k, (old, new) in changed.items())
        raise ValueError(f"--resume continues {saved.parent} with its saved config.json; these "
                         f"overrides would change it: {listed}. Start a new run instead.")
    return cfg
