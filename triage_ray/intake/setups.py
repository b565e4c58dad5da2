"""The model setups a study trains: each is one Ray Tune trial per data setting.

"xgb" trains one XGBoost model per task; "tf_<task>" a single-task Transformer; "mtl_<weighting>"
the multi-task Transformer with a weighting from `weighting.WEIGHTINGS` (fixed weights come from
the grid in IntakeConfig.mtl_weights, the urgency head's weight).
"""

from __future__ import annotations

from dataclasses import dataclass

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.schema import TASKS


@dataclass(frozen=True)
class Setup:
    kind: str  # "xgb" | "single" | "multitask"
    task: str | None = None  # single-task Transformers only
    weighting: str | None = None  # multi-task only: a WEIGHTINGS name
    weight: float | None = None  # fixed weighting: the urgency weight

    @property
    def key(self) -> str:
        if self.kind == "xgb":
            return "xgb"
        if self.kind == "single":
            return f"tf_{self.task}"
        suffix = f"_{self.weight:g}" if self.weight is not None else ""
        return f"mtl_{self.weighting}{suffix}"

    @property
    def tasks(self) -> tuple[str, ...]:
        return (self.task,) if self.kind == "single" else tuple(TASKS)  # type: ignore[return-value]

    @classmethod
    def from_key(cls, key: str) -> Setup:
        if key == "xgb":
            return cls("xgb")
        if key.startswith("tf_") and key[3:] in TASKS:
            return cls("single", task=key[3:])
        if key.startswith("mtl_fixed_"):
            return cls("multitask", weighting="fixed", weight=float(key[len("mtl_fixed_"):]))
        if key.startswith("mtl_"):
            return cls("multitask", weighting=key[4:])
        raise ValueError(f"unknown setup key {key!r}")


def study_setups(cfg: IntakeConfig) -> list[Setup]:
    """Multi-task setups first: they are the longest trials, so they start first."""
    out = [Setup("multitask", weighting="fixed", weight=w) for w in cfg.mtl_weights]
    if cfg.uncertainty_weighting:
        out.append(Setup("multitask", weighting="uncertainty"))
    out += [Setup("single", task=t) for t in TASKS] + [Setup("xgb")]
    return out
