"""Committed chunks of pile logits, so a killed scoring step resumes where it stopped.

A chunk is a Parquet file of (study_id, logit) written under a temporary name and renamed into
place: a kill leaves either a whole chunk or none, never half of one. A manifest names the model and
the pile the chunks belong to; chunks of another model or pile are stale and are cleared, never
mixed in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

MANIFEST = "manifest.json"
CHUNK_GLOB = "chunk-*.parquet"


def pile_fingerprint(study_ids: Iterable[str]) -> str:
    """A short hash of the pile's study ids (order-free): chunks of another pile do not match."""
    digest = hashlib.sha256()
    for sid in sorted(study_ids):
        digest.update(sid.encode() + b"\0")
    return digest.hexdigest()[:16]


class LogitChunks:
    """The chunk folder of one (model, pile) scoring. `open` clears a stale folder."""

    def __init__(self, folder: str | os.PathLike, identity: dict[str, Any]):
        self.folder = Path(folder)
        self.identity = identity

    @classmethod
    def open(cls, folder: str | os.PathLike, identity: dict[str, Any],
             log=print) -> LogitChunks:
        store = cls(folder, identity)
        store.folder.mkdir(parents=True, exist_ok=True)
        manifest = store.folder / MANIFEST
        old = json.loads(manifest.read_text()) if manifest.is_file() else None
        if old is not None and old != identity:
            stale = list(store.folder.glob(CHUNK_GLOB))
            log(f"pile scoring: {len(stale)} committed chunk(s) in {store.folder} belong to another "
                f"model or pile ({old}); starting over")
            for f in stale:
                f.unlink()
        manifest.write_text(json.dumps(identity, indent=2))
        return store

    def files(self) -> list[Path]:
        return sorted(self.folder.glob(CHUNK_GLOB))

    def committed(self) -> pd.DataFrame:
        """Every committed row; a study in two chunks is an error, not a silent duplicate."""
        parts = [pd.read_parquet(f) for f in self.files()]
        rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {"study_id": pd.Series(dtype=str), "logit": pd.Series(dtype="float32")})
        dup = rows["study_id"][rows["study_id"].duplicated()]
        if len(dup):
            raise RuntimeError(f"{len(dup)} studies in more than one chunk of {self.folder}, "
                               f"e.g. {dup.iloc[0]!r}")
        return rows

    def commit(self, rows: pd.DataFrame) -> Path:
        """Write one chunk atomically (temporary file, then rename)."""
        index = len(self.files())
        path = self.folder / f"chunk-{index:05d}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        rows.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path
