"""Decode and resize every image once, into sharded Parquet that Ray Data streams fast.

Decoding a PNG costs ~1 ms; reading a pre-decoded row from Parquet costs microseconds, so
training and inference read shards, never image files (see benchmarks/data_throughput.py).
Each shard holds SHARD_COLUMNS: ids, label, split, written findings and the image as H*W raw
bytes; the image size is in the file's key-value metadata. A missing or corrupt image is a counted
skip naming the file, never a silent drop: n_in == n_out + len(skipped), also written to ingest_report.json.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from triage_ray.data.images import DECODE_ERRORS, describe_failure, load_gray
from triage_ray.data.report import MAX_LISTED
from triage_ray.data.schema import INGEST_REPORT, SHARD_COLUMNS, SHARD_META_IMAGE_SIZE

IN_FLIGHT_BYTES = 512 * 2**20  # decoded pixels waiting in the object store (_decode_all)
log = logging.getLogger(__name__)

SHARD_SCHEMA = pa.schema([
    ("study_id", pa.string()), ("patient_id", pa.string()), ("label", pa.int8()),
    ("split", pa.string()), ("findings", pa.string()), ("image", pa.binary()),
])
assert tuple(SHARD_SCHEMA.names) == SHARD_COLUMNS


@dataclass
class IngestReport:
    n_in: int
    n_out: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    image_size: int = 0
    shards: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        s = f"ingested {self.n_out} of {self.n_in} images at {self.image_size} px into " \
            f"{len(self.shards)} shards in {self.seconds:.1f} s"
        if self.skipped:
            s += f"; {len(self.skipped)} skipped, e.g. {self.skipped[:MAX_LISTED]}"
        return s


def ingest_to_shards(studies: pd.DataFrame, out_dir: str | os.PathLike, *, image_size: int,
                     rows_per_shard: int = 2048, parallel: bool = True,
                     overwrite: bool = False) -> IngestReport:
    """Write `studies` (a study table, optionally with a "split" column) as Parquet shards.

    Shards are decoded by Ray tasks when Ray is initialised and `parallel`, else by a thread pool
    (PIL releases the GIL while decoding). An out_dir that already holds shards raises unless
    `overwrite` (stale shards mixed with new ones would silently change the data).
    """
    for col in ("study_id", "patient_id", "label", "path"):
        if col not in studies.columns:
            raise ValueError(f"ingest needs a {col!r} column; found {list(studies.columns)}")
    if studies.empty:
        raise ValueError("ingest got an empty study table: nothing to write")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(out.glob("*.parquet"))
    if old and not overwrite:
        raise FileExistsError(
            f"{out} already holds {len(old)} shards; pass overwrite=True or use a new folder")
    for f in old:
        f.unlink()

    t0 = time.perf_counter()
    rows = pd.DataFrame({
        "study_id": studies["study_id"].astype(str).to_numpy(),
        "patient_id": studies["patient_id"].astype(str).to_numpy(),
        "label": studies["label"].astype(np.int8).to_numpy(),
        "split": (studies["split"].fillna("").astype(str) if "split" in studies.columns
                  else pd.Series("", index=studies.index)).to_numpy(),
        "findings": (studies["findings"].fillna("").astype(str) if "findings" in studies.columns
                     else pd.Series("", index=studies.index)).to_numpy(),
        "path": studies["path"].astype(str).to_numpy(),
    })
    report = IngestReport(n_in=len(rows), image_size=image_size)
    chunks = [rows.iloc[i:i + rows_per_shard] for i in range(0, len(rows), rows_per_shard)]
    for k, (table, skipped) in enumerate(_decode_all(chunks, image_size, parallel)):
        report.skipped.extend(skipped)
        if table.num_rows == 0:
            continue
        name = f"shard-{k:05d}.parquet"
        meta = {SHARD_META_IMAGE_SIZE: str(image_size).encode()}
        # uncompressed: noisy radiograph bytes barely compress and decompression costs read speed
        pq.write_table(table.replace_schema_metadata(meta), out / name, compression="none")
        report.shards.append(name)
        report.n_out += table.num_rows
    report.seconds = time.perf_counter() - t0
    assert report.n_in == report.n_out + len(report.skipped), "ingest lost rows (a bug)"
    (out / INGEST_REPORT).write_text(json.dumps(report.to_dict(), indent=2))
    log.info(report.summary())
    if report.n_out == 0:
        raise ValueError(f"no image could be read; {report.summary()}")
    return report


def decode_chunk(rows: pd.DataFrame, image_size: int) -> tuple[pa.Table, list[tuple[str, str]]]:
    """One shard's rows -> (Arrow table of SHARD_COLUMNS, [(path, reason) skipped])."""
    images: list[bytes] = []
    keep = np.zeros(len(rows), dtype=bool)
    skipped: list[tuple[str, str]] = []
    for i, path in enumerate(rows["path"].tolist()):
        try:
            images.append(load_gray(path, image_size).tobytes())
            keep[i] = True
        except (FileNotFoundError, *DECODE_ERRORS) as exc:
            skipped.append((path, describe_failure(exc)))
    ok = rows[keep]
    table = pa.table({
        "study_id": pa.array(ok["study_id"].tolist(), pa.string()),
        "patient_id": pa.array(ok["patient_id"].tolist(), pa.string()),
        "label": pa.array(ok["label"].to_numpy(), pa.int8()),
        "split": pa.array(ok["split"].tolist(), pa.string()),
        "findings": pa.array(ok["findings"].tolist(), pa.string()),
        "image": pa.array(images, pa.binary()),
    }, schema=SHARD_SCHEMA)
    return table, skipped


def _decode_all(chunks: list[pd.DataFrame], image_size: int,
                parallel: bool) -> Iterator[tuple[pa.Table, list[tuple[str, str]]]]:
    """Decoded chunks in order. Ray tasks return Arrow tables through the object store, so a
    cluster without a shared filesystem for the output works as long as workers see the images.

    At most `in_flight` tasks at a time, and each result is released once written: submitting
    every chunk at once kept every decoded shard alive in the object store and mapped in the
    driver until the last was written (measured: driver peak 880 MB at 10k studies, 1,346 MB at
    100k; benchmarks/memory_scaling.py)."""
    ray = _ray_if_running() if parallel else None
    if ray is not None:
        task = ray.remote(num_cpus=1)(decode_chunk)
        rows = max((len(c) for c in chunks), default=1)
        in_flight = chunks_in_flight(int(ray.cluster_resources().get("CPU", 1)),
                                     rows * image_size * image_size)
        todo = iter(chunks)
        pending = deque(task.remote(c, image_size) for c in islice(todo, in_flight))
        while pending:
            result = ray.get(pending.popleft())
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(task.remote(nxt, image_size))
            yield result
            del result
    elif parallel and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            yield from pool.map(lambda c: decode_chunk(c, image_size), chunks)
    else:
        for c in chunks:
            yield decode_chunk(c, image_size)


def chunks_in_flight(cpus: int, chunk_bytes: int) -> int:
    """How many decoded chunks may wait in the object store at once: two per CPU, so decoding
    never waits for the writer, but at most IN_FLIGHT_BYTES of pixels (at least 2 chunks). Why the
    byte bound: at 224 px a 2,048-study chunk is 100 MB, and eight in flight held the driver's
    peak growing with the number of chunks up to ~1 GB (benchmarks/ingest_scale.py)."""
    by_bytes = IN_FLIGHT_BYTES // max(1, chunk_bytes)
    return max(2, min(2 * max(1, cpus), by_bytes))


def _ray_if_running():
    try:
        import ray
    except ImportError:
        return None
    return ray if ray.is_initialized() else None
