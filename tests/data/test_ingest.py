"""Ingest to Parquet shards: layout, metadata, counted skips for broken images, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from triage_ray.data.images import load_gray
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.schema import SHARD_COLUMNS, SHARD_META_IMAGE_SIZE
from triage_ray.data.splits import patient_split


@pytest.fixture
def studies(gen_tree):
    df = load_nih(gen_tree.root).head(50).copy()
    df["split"] = patient_split(df, {"train": 0.8, "test": 0.2})
    return df


def test_shards_hold_decoded_images(studies, tmp_path):
    rep = ingest_to_shards(studies, tmp_path, image_size=16, rows_per_shard=20, parallel=False)
    assert (rep.n_in, rep.n_out, rep.skipped) == (50, 50, [])
    assert rep.shards == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    t = pq.read_table(tmp_path / rep.shards[0])
    assert tuple(t.column_names) == SHARD_COLUMNS
    assert t.schema.metadata[SHARD_META_IMAGE_SIZE] == b"16"
    img = np.frombuffer(t.column("image")[0].as_py(), np.uint8).reshape(16, 16)
    assert (img == load_gray(studies["path"].iloc[0], 16)).all()
    assert t.column("split").to_pylist() == studies["split"].iloc[:20].tolist()
    assert json.loads((tmp_path / "ingest_report.json").read_text())["n_out"] == 50


def test_corrupt_and_missing_images_are_counted_skips(studies, tmp_path):
    bad = studies.copy()
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(Path(bad["path"].iloc[2]).read_bytes()[:60])
    bad.loc[bad.index[0], "path"] = str(corrupt)
    bad.loc[bad.index[1], "path"] = str(tmp_path / "gone.png")
    bad.loc[bad.index[2], "path"] = str(truncated)
    rep = ingest_to_shards(bad, tmp_path / "shards", image_size=16, parallel=True)
    assert rep.n_in == 50 and rep.n_out == 47 and rep.n_in == rep.n_out + len(rep.skipped)
    reasons = dict(rep.skipped)
    assert reasons[str(tmp_path / "gone.png")] == "missing file"
    assert reasons[str(corrupt)].startswith("cannot decode")
    assert reasons[str(truncated)].startswith("cannot decode")


def test_all_bad_raises_and_refusals(studies, tmp_path):
    bad = studies.head(3).copy()
    bad["path"] = str(tmp_path / "nothing.png")
    with pytest.raises(ValueError, match="no image could be read"):
        ingest_to_shards(bad, tmp_path / "a", image_size=16)
    with pytest.raises(ValueError, match="empty study table"):
        ingest_to_shards(studies.head(0), tmp_path / "b", image_size=16)
    with pytest.raises(ValueError, match="'path' column"):
        ingest_to_shards(studies.drop(columns=["path"]), tmp_path / "c", image_size=16)
    ingest_to_shards(studies, tmp_path / "d", image_size=16)
    with pytest.raises(FileExistsError, match="already holds"):
        ingest_to_shards(studies, tmp_path / "d", image_size=16)


def test_no_split_column_and_odd_images(studies, tmp_path):
    odd = studies.head(2).drop(columns=["split", "official_split"]).copy()
    wide = tmp_path / "wide.png"
    Image.fromarray((np.arange(40 * 60, dtype=np.uint16) * 20).reshape(40, 60)).save(wide)
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (30, 30), (200, 10, 10)).save(rgb)
    odd["path"] = [str(wide), str(rgb)]
    rep = ingest_to_shards(odd, tmp_path / "s", image_size=16)
    t = pq.read_table(tmp_path / "s" / rep.shards[0])
    assert t.column("split").to_pylist() == ["", ""]
    img = np.frombuffer(t.column("image")[0].as_py(), np.uint8)
    assert img.max() > 200  # 16-bit scaled by its own maximum, not clipped to white


def test_decoded_chunks_in_flight_are_bounded_by_bytes_as_well_as_cpus():
    from triage_ray.data.ingest import IN_FLIGHT_BYTES, chunks_in_flight

    assert chunks_in_flight(4, 2048 * 64 * 64) == 8  # 64 px: two per CPU, as before
    assert chunks_in_flight(4, 2048 * 224 * 224) == 5  # 224 px: 100 MB each, 512 MiB in all
    assert chunks_in_flight(16, 2048 * 512 * 512) == 2  # never fewer than two
    assert chunks_in_flight(16, 2048 * 224 * 224) * 2048 * 224 * 224 <= IN_FLIGHT_BYTES
