"""Streaming ingested shards through Ray Data."""

from __future__ import annotations

import numpy as np
import pytest

from triage_ray.data.images import load_gray
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.splits import patient_split
from triage_ray.data.stream import (
    CorruptShardError,
    batch_to_images,
    named_read_errors,
    read_shards,
    shard_image_size,
    unreadable_shards,
)


@pytest.fixture(scope="module")
def shards(gen_tree, tmp_path_factory):
    df = load_nih(gen_tree.root)
    df["split"] = patient_split(df, {"train": 0.7, "test": 0.3})
    out = tmp_path_factory.mktemp("shards")
    ingest_to_shards(df, out, image_size=24, rows_per_shard=50, parallel=False)
    return out, df


@pytest.mark.ray
def test_split_filter_and_pixels(shards, ray_local):
    out, df = shards
    assert shard_image_size(out) == 24
    got_ids, pixels = [], {}
    for batch in read_shards(out, split="test").iter_batches(batch_size=16, batch_format="numpy"):
        imgs = batch_to_images(batch)
        assert imgs.dtype == np.uint8 and imgs.shape[1:] == (24, 24)
        got_ids += batch["study_id"].tolist()
        pixels.update(zip(batch["study_id"].tolist(), imgs, strict=True))
    want = df.loc[df["split"] == "test"]
    assert sorted(got_ids) == sorted(want["study_id"])
    first = want.iloc[0]
    assert (pixels[first["study_id"]] == load_gray(first["path"], 24)).all()
    assert read_shards(out).count() == len(df)


@pytest.mark.ray
def test_unknown_split_and_missing_folder(shards, tmp_path, ray_local):
    out, _ = shards
    with pytest.raises(ValueError, match="no rows with split 'calib'"):
        read_shards(out, split="calib")
    with pytest.raises(FileNotFoundError, match="no \\*\\.parquet shards"):
        read_shards(tmp_path)


def test_batch_to_images_checks_shape():
    ok = {"image": np.array([bytes(range(16)), bytes(16)], dtype=object)}
    assert batch_to_images(ok).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="not square"):
        batch_to_images({"image": np.array([bytes(15)], dtype=object)})
    with pytest.raises(ValueError, match="differ in size"):
        batch_to_images({"image": np.array([bytes(16), bytes(9)], dtype=object)})


def test_unreadable_shards_name_damaged_and_missing_files(shards, tmp_path):
    import pickle
    import shutil

    out, _ = shards
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert unreadable_shards(copy) == []
    files = sorted(copy.glob("*.parquet"))
    files[0].write_bytes(files[0].read_bytes()[:200])  # truncated: no footer
    files[1].unlink()  # listed by the ingest report, gone from disk
    bad = dict(unreadable_shards(copy))
    assert set(bad) == {str(files[0]), str(files[1])}
    assert "missing" in bad[str(files[1])]

    def failing_read():
        yield 1
        raise OSError("a read task failed")

    with pytest.raises(CorruptShardError, match=files[0].name) as info:
        list(named_read_errors(failing_read(), copy))
    again = pickle.loads(pickle.dumps(info.value))  # Ray ships it from worker to driver
    assert str(again) == str(info.value) and again.bad == info.value.bad
    with pytest.raises(OSError, match="a read task failed"):  # intact shards: the error as it was
        list(named_read_errors(failing_read(), out))
