"""How the sweep searches the training space: one registered plan per search method.

A plan is the Tune parameter space plus the search algorithm and scheduler. `grid` tries every
combination of the configured backbones, learning rates and augmentation strengths; `optuna_asha`
samples `n_trials` configurations with Optuna's TPE over the same choices (the learning rate
log-uniform between the smallest and largest listed, augmentation uniform over its range), and
ASHA stops a trial at a rung (an epoch before its last) when its validation AUROC is below the top
1/reduction_factor of the trials that reached that rung. Finished trials are ranked the same way
under both (`xray.select`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from triage_ray.train.reporting import SCHEDULER_TIME
from triage_ray.xray.config import XrayConfig

VAL_METRIC = "val_auroc"  # calib split, written labels: what the search and ASHA read per epoch


@dataclass(frozen=True)
class SearchPlan:
    param_space: dict[str, Any]
    tune_config: dict[str, Any] = field(default_factory=dict)  # extra ray.tune.TuneConfig kwargs


SEARCHES: dict[str, Callable[[XrayConfig], SearchPlan]] = {}


def register_search(fn: Callable[[XrayConfig], SearchPlan]) -> Callable[[XrayConfig], SearchPlan]:
    SEARCHES[fn.__name__] = fn
    return fn


@register_search
def grid(cfg: XrayConfig) -> SearchPlan:
    """Every backbone x learning rate x augmentation strength x init x input size, all epochs."""
    from ray import tune

    space = {"backbone": tune.grid_search(list(cfg.backbones)),
             "lr": tune.grid_search(list(cfg.lrs)),
             "augment": tune.grid_search(list(cfg.augments)),
             "init": tune.grid_search(cfg.init_choices())}
    if len(cfg.input_sizes()) > 1:  # one size: no axis (the trial reads cfg.image_size)
        space["image_size"] = tune.grid_search(cfg.input_sizes())
    return SearchPlan(space)


@register_search
def optuna_asha(cfg: XrayConfig) -> SearchPlan:
    """n_trials Optuna TPE samples; ASHA stops weak ones early on per-epoch validation AUROC."""
    from optuna.samplers import TPESampler
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    lo, hi = min(cfg.lrs), max(cfg.lrs)
    a_lo, a_hi = min(cfg.augments), max(cfg.augments)
    space = {"backbone": tune.choice(list(cfg.backbones)),
             "lr": tune.loguniform(lo, hi) if hi > lo else lo,
             "augment": tune.uniform(a_lo, a_hi) if a_hi > a_lo else a_lo,
             "init": tune.choice(cfg.init_choices())}
    if len(cfg.input_sizes()) > 1:
        space["image_size"] = tune.choice(cfg.input_sizes())
    max_t = max(cfg.epochs - 1, 1)  # rungs only before the last epoch (train.reporting)
    scheduler = ASHAScheduler(
        time_attr=SCHEDULER_TIME, metric=VAL_METRIC, mode="max", max_t=max_t,
        grace_period=min(cfg.asha_grace_epochs, max_t),
        reduction_factor=cfg.asha_reduction_factor,
        stop_last_trials=False,  # a trial that survives every rung trains to its last epoch
    )
    # Optuna's TPE samples at random for its first 10 trials by default: with a laptop's 6 trials
    # that is random search. Half the budget random, half guided.
    sampler = TPESampler(seed=cfg.seed, n_startup_trials=max(1, cfg.n_trials // 2))
    search = OptunaSearch(metric=VAL_METRIC, mode="max", sampler=sampler)
    return SearchPlan(space, {"search_alg": search, "scheduler": scheduler,
                              "num_samples": cfg.n_trials})
