"""Ray Data batch inference: logits for every study of an ingested shard set, each exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from triage_ray.train.loop import META_FILE, MODEL_FILE


class LogitPredictor:
    """A Ray Data callable class: loads the checkpoint once per actor, then maps batches."""

    def __init__(self, checkpoint_dir: str, torch_threads: int | None = None):
        from triage_ray.models import create_backbone

        if torch_threads:
            torch.set_num_threads(torch_threads)
        meta = json.loads((Path(checkpoint_dir) / META_FILE).read_text())
        # checkpoints before per-finding supervision have no n_outputs: they had one logit
        self.model = create_backbone(meta["backbone"], pretrained=False,
                                     num_outputs=int(meta.get("n_outputs", 1)))
        state = torch.load(Path(checkpoint_dir) / MODEL_FILE, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.model.eval()
        self.mean, self.std = meta["mean"], meta["std"]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from triage_ray.train.tensors import images_to_tensor

        with torch.no_grad():
            logits = self.model(images_to_tensor(batch, self.mean, self.std))[:, 0]  # abnormal
        return {"study_id": batch["study_id"], "logit": logits.numpy().astype(np.float32)}


def predict_logits(
    ds, checkpoint_dir: str | Path, *, batch_size: int = 256, num_cpus: float = 1.0,
    concurrency: int = 1, torch_threads: int | None = None,
) -> pd.DataFrame:
    """study_id, logit for every row of `ds` (a Ray Dataset of shard rows)."""
    import ray.data

    out = ds.map_batches(
        LogitPredictor,
        fn_constructor_kwargs={"checkpoint_dir": str(checkpoint_dir), "torch_threads": torch_threads},
        batch_size=batch_size, batch_format="numpy", num_cpus=num_cpus,
        compute=ray.data.ActorPoolStrategy(size=concurrency),  # one model load per actor
    )
    return out.to_pandas()
