"""An untrained checkpoint in the pipeline's format, for tests that need a model but not a trained
one (pile scoring, the gate's feature check, saliency)."""

from __future__ import annotations

import json
from pathlib import Path


def untrained_checkpoint(folder: Path, backbone: str = "resnet10t", seed: int = 0) -> Path:
    """`folder` holding MODEL_FILE and META_FILE for a freshly initialised `backbone`."""
    import torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.loop import META_FILE, MODEL_FILE

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = create_backbone(backbone, pretrained=False, num_outputs=1)
    mean, std = grayscale_normalisation(model)
    torch.save({"model": model.state_dict()}, folder / MODEL_FILE)
    (folder / META_FILE).write_text(json.dumps({"backbone": backbone, "mean": mean, "std": std,
                                                "n_outputs": 1}))
    return folder
