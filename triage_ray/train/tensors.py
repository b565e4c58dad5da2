"""Turn streamed shard batches into normalised tensors (shared by training and batch inference)."""

from __future__ import annotations

import numpy as np
import torch

from triage_ray.data.stream import batch_to_images


def images_to_tensor(batch: dict[str, np.ndarray], mean: float, std: float) -> torch.Tensor:
    """uint8 (B, H, W) from the binary image column -> float32 (B, 1, H, W), normalised."""
    images = batch_to_images(batch)  # (B, H, W) uint8
    # astype copies into a writable float array (the bytes view from the shard is read-only)
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0)
    return x.sub_(mean).div_(std).unsqueeze(1)  # (B, 1, H, W)
