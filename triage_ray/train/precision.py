"""Numeric precision and memory layout of a training or prediction step.

Why a separate object: the Train worker, the plain-PyTorch loops and pile scoring must run the
same arithmetic, and a GPU run is worth its cost only with mixed precision (bfloat16 or float16
matrix units) and, for convolutions on tensor cores, channels-last tensors. On the CPU the default
("fp32", contiguous) leaves every step exactly as it was; "bf16" also runs on a CPU (slowly), which
is how CI exercises the autocast path without a GPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

# fp32: plain float32; bf16: autocast to bfloat16 (no loss scaling needed: float32's exponent
# range); fp16: autocast to float16 with a gradient scaler (GPUs without bfloat16, e.g. V100, T4)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class StepPrecision:
    """How a step computes: `precision` (a PRECISIONS key) and `channels_last` memory format."""

    precision: str = "fp32"
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of "
                             f"{sorted(PRECISIONS)}")

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> StepPrecision:
        """From a worker config (keys `precision`, `channels_last`; absent: fp32, contiguous)."""
        return cls(cfg.get("precision") or "fp32", bool(cfg.get("channels_last", False)))

    @property
    def mixed(self) -> bool:
        return PRECISIONS[self.precision] is not None

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """The context a forward pass runs in: autocast to the lower precision on `device`'s
        type, or nothing at all for fp32 (so any device, PyTorch's `meta` included, works)."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=PRECISIONS[self.precision])

    def scaler(self, device: torch.device) -> torch.amp.GradScaler:
        """A gradient scaler, enabled for fp16 only (its small exponent range underflows small
        gradients without it); disabled it passes the loss and the optimiser step through."""
        return torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model in the step's memory format (call before wrapping it for DDP)."""
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """A (B, C, H, W) batch in the step's memory format."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def check_device(self, device: torch.device) -> None:
        """Refuse a precision the device cannot run, before the first batch: fp16 autocast is a
        GPU feature, and older GPUs (before Ampere) have no bfloat16 units."""
        if self.precision == "fp16" and device.type != "cuda":
            raise ValueError(f"precision 'fp16' needs a GPU (use_gpu=true); this worker runs on "
                             f"{device.type}: use 'bf16' or 'fp32'")
        if (self.precision == "bf16" and device.type == "cuda"
                and not torch.cuda.is_bf16_supported()):
            raise ValueError(f"precision 'bf16': {torch.cuda.get_device_name(device)} has no "
                             "bfloat16 support; use 'fp16' (with loss scaling) or 'fp32'")


FP32 = StepPrecision()
