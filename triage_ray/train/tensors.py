"""Turn streamed shard batches into tensors (shared by training, evaluation and batch inference)."""

from __future__ import annotations

import numpy as np
import torch

from triage_ray.data.stream import batch_to_images


def pixels_to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W) -> float32 (B, 1, H, W) in [0, 1]."""
    # astype copies into a writable float array (the bytes view from the shard is read-only)
    return torch.from_numpy(images.astype(np.float32)).div_(255.0).unsqueeze(1)


def images_to_unit(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """uint8 (B, H, W) from the binary image column -> float32 (B, 1, H, W) in [0, 1]."""
    return pixels_to_unit(batch_to_images(batch))


def model_device(model: torch.nn.Module) -> torch.device:
    """Where the model's parameters live: the Train worker's device once `prepare_model` has run
    (a GPU on a GPU worker), so every batch, label and output is moved there and back."""
    return next(model.parameters()).device


def normalise(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """[0, 1] pixels -> the backbone's input scale (its pretrained config's mean/std)."""
    return (x - mean) / std


def images_to_tensor(batch: dict[str, np.ndarray], mean: float, std: float) -> torch.Tensor:
    """uint8 (B, H, W) from the binary image column -> float32 (B, 1, H, W), normalised."""
    return normalise(images_to_unit(batch), mean, std)
