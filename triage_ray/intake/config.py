"""The intake study's configuration: every default in one place, saved with every run.

Design (default run, 2 CPU cores, measured in docs/intake.md): 40,000 generated records per data
setting (28,000 training pool, 4,000 validation, 8,000 test).
- Headline: at `headline_relatedness` all five models train on the whole 28,000-record pool,
  3 seeds, with the learning curve at `train_sizes` below it.
- Tuning: every Transformer setup gets the same Ray Tune budget (one fixed Halton design,
  `tune_trials` trials at `tune_size` records) for its learning rate (and, for fixed weights,
  the urgency weight); epochs are chosen on validation in every fit (early stopping, best epoch
  kept).
- Transfer map: multi-task minus single-task at every `relatedness` x `train_sizes`, with the
  gradient cosine and TAG affinity beside it; a parameter-matched multi-task model at the
  headline setting.
- Controls: a positive and a negative control setting (`controls.py`) at `control_size`,
  `control_seeds` seeds.
The model is small (2 layers, 64 wide, <= 40 tokens) so that the whole design fits 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from triage_ray.common.study_config import StudyConfig, check_choice


@dataclass
class IntakeConfig(StudyConfig):
    # data: generated records (default) or a real file read with `load.load_records`
    n_records: int = 40_000
    # denser below the headline: the recommendation must say what happens when the labels are
    # less related than in the data (a fifth setting, 0.75, cost ~10% more of the default run)
    relatedness: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 1.0])
    headline_relatedness: float = 0.5  # the setting the headline and learning curve use
    data_seed: int = 0
    data_path: str | None = None  # a real CSV/Parquet file instead of generated records
    column_map: dict[str, str] = field(default_factory=dict)  # for data_path, see load.py
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    on_invalid: str = "skip"
    n_val: int = 4000
    n_test: int = 8000
    train_sizes: list[int] = field(default_factory=lambda: [500, 1000, 5000])
    full_size: bool = True  # the headline also trains on the whole training pool
    seeds: int = 3
    # the five models: multi-task weightings (weighting.WEIGHTINGS) and the matched-size model
    weightings: list[str] = field(default_factory=lambda: ["fixed", "uncertainty", "pcgrad"])
    matched_params: bool = True  # one multi-task model as large as the two single-task ones,
    # trained at the headline's largest size only (the one matched comparison)
    controls: list[str] = field(default_factory=lambda: ["positive", "negative"])
    control_size: int = 300  # small: where sharing can matter (tests/intake/test_controls.py)
    control_seeds: int = 8  # a control's verdict must not hang on a seed draw: at 3 seeds the
    # positive control's +0.02-0.03 transfer failed 2 of 20 random seed triples (docs/intake.md)
    # tuning (Ray Tune over one fixed design, tuning.py), the same budget for every setup
    tune_trials: int = 6
    tune_size: int = 2000
    tune_max_epochs: int = 15  # = the fits' epochs at tune_size (at 10, the multi-task trials
    # that ran all 10 epochs under fixed and uncertainty weighting peaked at the last)
    lr_range: list[float] = field(default_factory=lambda: [3e-4, 1e-2])
    urgency_weight_range: list[float] = field(default_factory=lambda: [0.1, 0.9])
    # Transformers
    vocab_size: int = 1000
    max_len: int = 40
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    intermediate: int = 128
    dropout: float = 0.1
    batch_size: int = 64
    weight_decay: float = 0.01
    samples_per_run: int = 30_000  # max epochs = clip(ceil(samples_per_run / n_train), min, max)
    min_epochs: int = 4
    max_epochs: int = 40  # a cap, not the choice: 20 stopped the multi-task model at 300 records
    # while still improving (best epoch its last), turning the positive control's specialty
    # transfer negative; at 40 its fits stopped on validation (docs/intake.md, Controls)
    patience: int = 5  # epochs without a better validation macro-F1 before stopping (3 stopped
    # single-task urgency at 500-1,000 records after 2-3 epochs on a noisy curve)
    probe_every: int = 25  # steps between task-relation probes (gradient cosine, TAG)
    affinity_step: float = 0.05  # TAG's look-ahead step size on the shared encoder
    # XGBoost
    xgb_rounds: int = 200
    xgb_max_depth: int = 4
    xgb_eta: float = 0.15
    xgb_early_stopping: int = 20
    xgb_text_features: int = 300
    # evaluation
    n_boot: int = 1000
    ci_level: float = 0.95
    ece_bins: int = 15
    # Ray resources (2-core laptop: 4 logical CPUs, 2 trials at a time, see shared notes)
    max_concurrent_trials: int = 2
    trial_cpus: float = 0.5
    worker_cpus: float = 0.5
    tune_trial_cpus: float = 1.0
    torch_threads: int = 1
    # bookkeeping
    reports_dir: str = "reports/intake"
    run_id: str | None = None
    smoke: bool = False

    @classmethod
    def smoke_config(cls, **overrides: Any) -> IntakeConfig:
        """Tiny sizes that run every stage (map, controls, tuning, headline) in a few minutes:
        two relatedness settings and one size below the whole pool still give every table its
        rows (a 2 x 1 map, a 2-point learning curve); each more costs ~20% of the smoke."""
        base: dict[str, Any] = dict(
            n_records=2400, n_val=400, n_test=600, relatedness=[0.0, 0.5],
            train_sizes=[200], seeds=2, control_size=200, control_seeds=2, tune_trials=2,
            tune_size=400, tune_max_epochs=2, samples_per_run=600, min_epochs=1, max_epochs=2,
            patience=1, probe_every=4, xgb_rounds=20, n_boot=200, vocab_size=300, smoke=True,
            max_concurrent_trials=2,
        )
        base.update(overrides)
        return cls.from_dict(base)

    def validate(self) -> None:
        from triage_ray.intake.controls import CONTROLS
        from triage_ray.intake.weighting import WEIGHTINGS

        if self.data_path is None and not self.relatedness:
            raise ValueError("relatedness: give at least one setting for generated records")
        if any(not 0.0 <= r <= 1.0 for r in self.relatedness):
            raise ValueError(f"relatedness values must be in [0, 1], got {self.relatedness}")
        if self.data_path is None and self.headline_relatedness not in self.relatedness:
            raise ValueError(f"headline_relatedness {self.headline_relatedness} must be one of "
                             f"relatedness {self.relatedness}")
        if min(self.seeds, self.control_seeds) < 1:
            raise ValueError(f"seeds and control_seeds must be >= 1, got {self.seeds}, "
                             f"{self.control_seeds}")
        if not self.weightings:
            raise ValueError("weightings: give at least one multi-task weighting")
        for w in self.weightings:
            check_choice("weightings", w, WEIGHTINGS)
        for c in self.controls:
            check_choice("controls", c, CONTROLS)
        if sorted(set(self.train_sizes)) != list(self.train_sizes) or not self.train_sizes:
            raise ValueError(f"train_sizes must be increasing and distinct: {self.train_sizes}")
        for name in ("lr_range", "urgency_weight_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high, got {lo, hi}")
        if self.urgency_weight_range[1] >= 1.0:
            raise ValueError("urgency_weight_range must stay below 1 (specialty gets 1 - w)")
        if self.tune_trials < 1 or self.patience < 1:
            raise ValueError("tune_trials and patience must be >= 1")

    @property
    def pool_size(self) -> int:
        """Records in the training pool of a generated setting."""
        return self.n_records - self.n_val - self.n_test

    def settings(self) -> list[float | None]:
        """Relatedness settings to run; [None] for a real data file (no knob to turn)."""
        return [None] if self.data_path else list(self.relatedness)

    def headline_setting(self) -> float | None:
        return None if self.data_path else self.headline_relatedness
