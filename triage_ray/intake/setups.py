"""The model setups a study trains, and the Ray trials that train them.

"xgb" trains one XGBoost model per task; "tf_<task>" a single-task Transformer; "mtl_<weighting>"
the multi-task Transformer with a weighting from `weighting.WEIGHTINGS`; "mtl_<weighting>_matched"
the same model widened to as many parameters as the two single-task Transformers together.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage_ray.intake.schema import TASKS

MATCHED = "_matched"


@dataclass(frozen=True)
class Setup:
    kind: str  # "xgb" | "single" | "multitask"
    task: str | None = None  # single-task Transformers only
    weighting: str | None = None  # multi-task only: a WEIGHTINGS name
    matched: bool = False  # multi-task only: widened to the single-task pair's parameter count

    @property
    def key(self) -> str:
        if self.kind == "xgb":
            return "xgb"
        if self.kind == "single":
            return f"tf_{self.task}"
        return f"mtl_{self.weighting}{MATCHED if self.matched else ''}"

    @property
    def tasks(self) -> tuple[str, ...]:
        return (self.task,) if self.kind == "single" else tuple(TASKS)  # type: ignore[return-value]

    @property
    def tuned_as(self) -> str:
        """The setup whose tuned hyperparameters this one uses (a matched model: its base)."""
        return self.key.removesuffix(MATCHED)

    @classmethod
    def from_key(cls, key: str) -> Setup:
        if key == "xgb":
            return cls("xgb")
        if key.startswith("tf_") and key[3:] in TASKS:
            return cls("single", task=key[3:])
        if key.startswith("mtl_"):
            name = key[4:]
            matched = name.endswith(MATCHED)
            return cls("multitask", weighting=name.removesuffix(MATCHED), matched=matched)
        raise ValueError(f"unknown setup key {key!r}")


def single_task_setups() -> list[Setup]:
    return [Setup("single", task=t) for t in TASKS]


def tuned_setups(weightings: list[str]) -> list[Setup]:
    """Every Transformer setup that gets its own tuning budget."""
    return [Setup("multitask", weighting=w) for w in weightings] + single_task_setups()


def headline_setups(weightings: list[str], selected: str, matched: bool) -> list[Setup]:
    """Multi-task setups first (the longest trials start first), then single-task, XGBoost."""
    out = [Setup("multitask", weighting=w) for w in weightings]
    if matched:
        out.insert(0, Setup("multitask", weighting=selected, matched=True))
    return out + single_task_setups() + [Setup("xgb")]


def map_setups(selected: str) -> list[Setup]:
    """What the transfer map and the controls need: the chosen multi-task model and its pair."""
    return [Setup("multitask", weighting=selected)] + single_task_setups()
