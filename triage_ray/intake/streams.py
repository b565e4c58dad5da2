"""Ray Data from the study's Parquet files to the training workers.

One pipeline for the whole study: read every setting's records.parquet -> tokenise each record
with the tokenizer of each of its setting's training sets (trained on that set only;
`map_batches`) -> materialise once in the object store, before the sweep. Workers then stream it
with `iter_batches`, keep the rows of their own settings and pick training rows by `split` and
`train_rank`.

Token columns are `input_ids@<size>` (int16, 0 = [PAD], so the attention mask is `ids != 0`), one
per training size of any setting; a setting without that size holds zeros there.

Why one materialised pipeline: each Ray Data execution starts its read/map tasks in fresh worker
processes, which took 25-60 s per execution on this shared 2-core machine (and ~2-3 s on an
idle one); per-trial or per-epoch pipelines spent more time starting processes than training.
The shared notes measured the same fix ("materialising the dataset before the sweep").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.ingest import in_training_set
from triage_ray.intake.tokenize import encode, record_texts

DATA_TASK_CPUS = 0.25  # logical CPUs per read/map task: they fit beside two training workers
PAD_ID = 0  # tokenize.BASE_SPECIAL puts [PAD] first


def ids_column(size: int) -> str:
    return f"input_ids@{size}"


def encode_study_batch(batch: pd.DataFrame, tokenizers: dict[str, str], sizes: list[int],
                       max_len: int) -> dict[str, np.ndarray]:
    """`map_batches` function: the records plus (n, max_len) token columns for every training
    size, each row encoded by its own setting's tokenizer of that size ("<setting>@<size>")."""
    from tokenizers import Tokenizer

    out = {c: batch[c].to_numpy() for c in batch.columns}
    texts = np.array(record_texts(batch), dtype=object)
    settings = batch["setting"].to_numpy()
    for size in sizes:
        ids = np.zeros((len(batch), max_len), np.int16)
        for setting in np.unique(settings):
            key = f"{setting}@{size}"
            if key in tokenizers:
                rows = settings == setting
                ids[rows] = encode(Tokenizer.from_str(tokenizers[key]), list(texts[rows]),
                                   max_len)[0]
        out[ids_column(size)] = ids
    return out


def all_sizes(data_index: dict[str, Any]) -> list[int]:
    return sorted({s for d in data_index.values() for s in d["sizes"]})


def build_dataset(cfg: IntakeConfig, data_index: dict[str, Any], materialize: bool = True) -> Any:
    """The study's one dataset (see module docstring)."""
    import ray.data

    tokenizers = {f"{setting}@{size}": Path(d["tokenizer"][str(size)]).read_text()
                  for setting, d in data_index.items() for size in d["sizes"]}
    ds = ray.data.read_parquet([d["records"] for d in data_index.values()], num_cpus=DATA_TASK_CPUS)
    ds = ds.map_batches(encode_study_batch, batch_format="pandas", batch_size=4096,
                        num_cpus=DATA_TASK_CPUS,
                        fn_kwargs={"tokenizers": tokenizers, "sizes": all_sizes(data_index),
                                   "max_len": cfg.max_len})
    return ds.materialize() if materialize else ds


def load_rows(shard: Any, settings: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """One streamed pass over a worker's dataset shard into whole-column numpy arrays, keeping
    only the rows of `settings` (all rows when None)."""
    keep = None if settings is None else np.array(sorted(settings), dtype=object)
    parts = []
    for batch in shard.iter_batches(batch_size=8192, batch_format="numpy"):
        if keep is not None:
            rows = np.isin(batch["setting"].astype(object), keep)
            batch = {k: v[rows] for k, v in batch.items()}
        parts.append(batch)
    parts = [p for p in parts if len(p["setting"])]
    if not parts:
        raise ValueError(f"the study dataset has no rows for settings {settings}")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def select(rows: dict[str, np.ndarray], setting: str, split: str, size: int | None = None
           ) -> dict[str, np.ndarray]:
    """Rows of one setting and split ("train" needs the training size; "eval" = val + test)."""
    frame = pd.DataFrame({"split": rows["split"], "train_rank": rows["train_rank"]})
    train = split == "train"
    keep = in_training_set(frame, size) if train else (frame["split"] != "train").to_numpy()  # type: ignore[arg-type]
    keep = keep & (rows["setting"] == setting)
    return {k: v[keep] for k, v in rows.items()}
