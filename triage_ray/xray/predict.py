"""Ray Data batch inference: logits for every study of an ingested shard set, each exactly once.

`score_shards` is the resumable form the pipeline uses: logits are committed in chunks as they
arrive (`xray.chunks`), and a re-run after a kill scores only the studies no chunk holds.

    python -m triage_ray.xray.predict --shards DIR --checkpoint DIR --out DIR   # a pile, resumable
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from triage_ray.train.loop import META_FILE, MODEL_FILE
from triage_ray.train.precision import FP32, StepPrecision


def load_checkpoint_model(checkpoint_dir: str | Path):
    """(model in eval mode, input mean, input std) of a trial's checkpoint."""
    from triage_ray.models import create_backbone

    meta = json.loads((Path(checkpoint_dir) / META_FILE).read_text())
    # checkpoints before per-finding supervision have no n_outputs: they had one logit
    model = create_backbone(meta["backbone"], pretrained=False,
                            num_outputs=int(meta.get("n_outputs", 1)))
    state = torch.load(Path(checkpoint_dir) / MODEL_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    model.eval()
    return model, meta["mean"], meta["std"]


def logits_and_features(model, x: torch.Tensor, step: StepPrecision = FP32, *,
                        gate_features: bool = True
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The abnormal logit and the gate's features, one pass (in `step`'s precision; all come back
    as float32): each backbone stage's channel means and SDs (`stage0`, ...) and the pooled
    features the head reads (`gate.ood.POOLED`). gate_features=False: the logit only (no
    detector to feed), and no stage statistics computed."""
    from triage_ray.gate.ood import POOLED

    with torch.no_grad(), step.autocast(x.device):
        x = step.prepare_input(x)
        if not gate_features:
            return model.forward_head(model.forward_features(x))[:, 0].float(), {}
        trunk, stages = model.forward_intermediates(x)
        features = {f"stage{i}": torch.cat([t.float().mean((2, 3)),
                                            t.float().std((2, 3), correction=0)], 1)
                    for i, t in enumerate(stages)}
        features[POOLED] = model.forward_head(trunk, pre_logits=True).float()
        return model.forward_head(trunk)[:, 0].float(), features


class LogitPredictor:
    """A Ray Data callable class: loads the checkpoint once per actor, then maps batches.
    With `detector_file` (`gate.ood`), each study also gets its feature distance `ood_distance`.
    device: where the model runs (e.g. "cuda" for an actor given a GPU); each batch is moved there
    and its logits and features come back to the CPU. step: precision and memory format, as in
    training (train.precision)."""

    def __init__(self, checkpoint_dir: str, torch_threads: int | None = None,
                 detector_file: str | None = None, device: str = "cpu",
                 step: StepPrecision = FP32):
        from triage_ray.gate.ood import FeatureDistance

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.model, self.mean, self.std = load_checkpoint_model(checkpoint_dir)
        self.device = torch.device(device)
        self.step = step
        self.step.check_device(self.device)
        self.model = self.step.prepare_model(self.model.to(self.device))
        self.detector = FeatureDistance.load(detector_file) if detector_file else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from triage_ray.train.tensors import images_to_tensor

        x = images_to_tensor(batch, self.mean, self.std).to(self.device, non_blocking=True)
        logits, features = logits_and_features(self.model, x, self.step,
                                               gate_features=self.detector is not None)
        out = {"study_id": batch["study_id"], "logit": logits.cpu().numpy()}
        if self.detector is not None:
            out["ood_distance"] = self.detector.distance(
                {k: v.cpu().numpy() for k, v in features.items()}).astype(np.float32)
        return out


def _logit_dataset(ds, checkpoint_dir: str | Path, *, batch_size: int = 256, num_cpus: float = 1.0,
                   concurrency: int = 1, torch_threads: int | None = None,
                   detector_file: str | Path | None = None, use_gpu: bool = False,
                   step: StepPrecision = FP32):
    """`ds` mapped to (study_id, logit[, ood_distance]) by LogitPredictor actors (one model load
    per actor; with `use_gpu` each actor holds one GPU and scores its batches there)."""
    import ray.data

    return ds.map_batches(
        LogitPredictor,
        fn_constructor_kwargs={"checkpoint_dir": str(checkpoint_dir), "torch_threads": torch_threads,
                               "detector_file": str(detector_file) if detector_file else None,
                               "device": "cuda" if use_gpu else "cpu", "step": step},
        batch_size=batch_size, batch_format="numpy", num_cpus=num_cpus,
        num_gpus=1 if use_gpu else 0, compute=ray.data.ActorPoolStrategy(size=concurrency),
    )


def shard_study_ids(shard_dir: str | Path) -> list[str]:
    """Every study id in the shard set (reads only that column)."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import shard_files

    return [sid for f in shard_files(shard_dir)
            for sid in pq.read_table(f, columns=["study_id"]).column("study_id").to_pylist()]


def score_shards(
    shard_dir: str | Path, checkpoint_dir: str | Path, chunk_dir: str | Path, *,
    chunk_rows: int = 4096, batch_size: int = 256, concurrency: int = 1,
    torch_threads: int | None = None, detector_file: str | Path | None = None, log=print,
    use_gpu: bool = False, step: StepPrecision = FP32,
) -> pd.DataFrame:
    """study_id, logit (and ood_distance with `detector_file`) for every study of `shard_dir`,
    committed to `chunk_dir` as it goes. use_gpu: `concurrency` actors of one GPU each, scoring in
    `step`'s precision and memory format.

    Studies already in a committed chunk of the same model, detector and pile are not scored
    again, so a run killed part-way resumes; the result holds each study exactly once (checked)."""
    from ray.data.expressions import col

    from triage_ray.data.stream import named_read_errors, read_shards
    from triage_ray.xray.chunks import LogitChunks, pile_fingerprint

    ids = shard_study_ids(shard_dir)
    identity = {"checkpoint": str(Path(checkpoint_dir).resolve()), "n_studies": len(ids),
                "pile": pile_fingerprint(ids)}
    columns = ["study_id", "logit"]
    if detector_file:
        from triage_ray.gate.ood import FeatureDistance

        identity["detector"] = FeatureDistance.load(detector_file).fingerprint()
        columns.append("ood_distance")
    store = LogitChunks.open(chunk_dir, identity, log=log)
    done = set(store.committed()["study_id"])
    todo = [sid for sid in ids if sid not in done]
    log(f"pile scoring: {len(ids):,} studies, {len(done):,} already committed in "
        f"{len(store.files())} chunk(s), {len(todo):,} to score")
    if todo:
        ds = read_shards(shard_dir)
        if done:
            ds = ds.filter(expr=col("study_id").is_in(todo))
        scored = _logit_dataset(ds, checkpoint_dir, batch_size=batch_size, concurrency=concurrency,
                                torch_threads=torch_threads, detector_file=detector_file,
                                use_gpu=use_gpu, step=step)
        n = len(done)
        for batch in named_read_errors(
                scored.iter_batches(batch_size=chunk_rows, batch_format="pandas"), shard_dir):
            store.commit(batch[columns])
            n += len(batch)
            log(f"pile scoring: {n:,}/{len(ids):,} studies committed")
    rows = store.committed()
    missing = set(ids) - set(rows["study_id"])
    if missing or len(rows) != len(ids):
        raise RuntimeError(f"pile scoring: {len(ids)} studies in, {len(rows)} scored; "
                           f"{len(missing)} missing, e.g. {sorted(missing)[:3]}")
    return rows


def main(argv: list[str] | None = None) -> None:
    """Score a shard set with a checkpoint; re-running the same command resumes."""
    import argparse

    from triage_ray.common.ray_session import add_address_argument, start_ray

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--shards", required=True, help="an ingested shard folder")
    ap.add_argument("--checkpoint", required=True, help="a trial's checkpoint folder")
    ap.add_argument("--out", required=True, help="folder for the committed chunks and logits.parquet")
    ap.add_argument("--chunk-rows", type=int, default=4096)
    ap.add_argument("--torch-threads", type=int)
    add_address_argument(ap)
    args = ap.parse_args(argv)
    start_ray(args.address, None, {"RAY_DATA_DISABLE_PROGRESS_BARS": "1"})
    out = Path(args.out)
    rows = score_shards(args.shards, args.checkpoint, out / "chunks", chunk_rows=args.chunk_rows,
                        torch_threads=args.torch_threads)
    rows.to_parquet(out / "logits.parquet", index=False)
    print(f"{len(rows):,} studies scored: {out / 'logits.parquet'}")


if __name__ == "__main__":
    main()
