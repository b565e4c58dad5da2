"""Ray Data from the study's Parquet files to the training workers.

One pipeline for the whole study: read every setting's records.parquet -> tokenise each record
with the tokenizer of each training size (trained on that split only; `map_batches`) ->
materialise once in the object store, before the sweep. Workers then stream it with
`iter_batches` and pick their rows by `setting`, `split` and `train_rank`.

Why one materialised pipeline: each Ray Data execution starts its read/map tasks in fresh worker
processes, which took 25-60 s per execution on this shared 2-core machine (and ~2-3 s on an
idle one); per-trial or per-epoch pipelines spent more time starting processes than training.
The shared notes measured the same fix ("materialising the dataset before the sweep").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.ingest import in_training_set
from triage_ray.intake.tokenize import encode, record_texts

DATA_TASK_CPUS = 0.25  # logical CPUs per read/map task: they fit beside two training workers


def ids_column(size: int) -> str:
    return f"input_ids@{size}"


def mask_column(size: int) -> str:
    return f"attention_mask@{size}"


def encode_study_batch(batch: pd.DataFrame, tokenizers: dict[str, str], sizes: list[int],
                       max_len: int) -> dict[str, np.ndarray]:
    """`map_batches` function: the records plus (n, max_len) token columns for every training
    size, each row encoded by the tokenizer of its own setting ("<setting>@<size>" keys)."""
    from tokenizers import Tokenizer

    out = {c: batch[c].to_numpy() for c in batch.columns}
    texts = np.array(record_texts(batch), dtype=object)
    settings = batch["setting"].to_numpy()
    for size in sizes:
        ids = np.zeros((len(batch), max_len), np.int32)
        mask = np.zeros((len(batch), max_len), np.int32)
        for setting in np.unique(settings):
            rows = settings == setting
            tok = Tokenizer.from_str(tokenizers[f"{setting}@{size}"])
            ids[rows], mask[rows] = encode(tok, list(texts[rows]), max_len)
        out[ids_column(size)], out[mask_column(size)] = ids, mask
    return out


def build_dataset(cfg: IntakeConfig, data_index: dict[str, Any], materialize: bool = True) -> Any:
    """The study's one dataset (see module docstring)."""
    import ray.data

    tokenizers = {f"{setting}@{size}": Path(path).read_text()
                  for setting, data in data_index.items() for size, path in data["tokenizer"].items()}
    ds = ray.data.read_parquet([d["records"] for d in data_index.values()], num_cpus=DATA_TASK_CPUS)
    ds = ds.map_batches(encode_study_batch, batch_format="pandas", batch_size=4096,
                        num_cpus=DATA_TASK_CPUS,
                        fn_kwargs={"tokenizers": tokenizers, "sizes": list(cfg.train_sizes),
                                   "max_len": cfg.max_len})
    return ds.materialize() if materialize else ds


def load_rows(shard: Any) -> dict[str, np.ndarray]:
    """One streamed pass over a worker's dataset shard into whole-column numpy arrays."""
    parts = list(shard.iter_batches(batch_size=8192, batch_format="numpy"))
    if not parts:
        raise ValueError("the study dataset is empty")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def select(rows: dict[str, np.ndarray], setting: str, split: str, size: int | None = None
           ) -> dict[str, np.ndarray]:
    """Rows of one setting and split ("train" needs the training size; "eval" = val + test)."""
    frame = pd.DataFrame({"split": rows["split"], "train_rank": rows["train_rank"]})
    train = split == "train"
    keep = in_training_set(frame, size) if train else (frame["split"] != "train").to_numpy()  # type: ignore[arg-type]
    keep = keep & (rows["setting"] == setting)
    return {k: v[keep] for k, v in rows.items()}
