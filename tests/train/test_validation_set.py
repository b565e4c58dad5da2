"""The validation split rank 0 scores every epoch: streamed once through Ray Data, then kept in
memory when small; a split over the memory budget is streamed every epoch. Real shards, a real
local Ray, a real timm model."""

from __future__ import annotations

import numpy as np
import pytest

from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.splits import patient_split
from triage_ray.data.stream import read_shards
from triage_ray.data.synth import generate_nih_tree
from triage_ray.train.loop import ValidationSet
from triage_ray.xray.config import XrayConfig


class ReadNoMore:
    """Stands in for the dataset after the first pass: any further read fails the test."""

    def iter_batches(self, *args, **kwargs):
        raise AssertionError("the cached validation split was read again")


@pytest.fixture(scope="module")
def calib(tmp_path_factory, ray_local):
    root = tmp_path_factory.mktemp("val")
    generate_nih_tree(root / "tree", 120, image_size=32, seed=5, parallel=False, ceiling_sample=0)
    studies = load_nih(root / "tree")
    studies["split"] = patient_split(studies, XrayConfig().splits, seed=0).to_numpy()
    ingest_to_shards(studies, root / "shards", image_size=32, parallel=False)
    expected = studies.loc[studies["split"] == "calib", ["study_id", "label"]]
    return root / "shards", expected


@pytest.fixture(scope="module")
def model():
    import torch

    from triage_ray.models import create_backbone

    torch.manual_seed(0)
    return create_backbone("mobilenetv3_small_050", num_outputs=1)


def test_small_split_is_read_once_and_predicted_from_memory(calib, model):
    shard_dir, expected = calib
    val = ValidationSet(read_shards(shard_dir, split="calib"), str(shard_dir))
    first = val.predict(model, 0.5, 0.25)
    assert val.cached and val.pixels.shape == (len(expected), 32, 32)
    assert sorted(first["study_id"]) == sorted(expected["study_id"])
    assert set(first["split"]) == {"calib"}
    labels = expected.set_index("study_id")["label"].loc[first["study_id"]].to_numpy()
    assert np.array_equal(first["label"], labels)
    val.shard = ReadNoMore()
    second = val.predict(model, 0.5, 0.25)
    for k in ("study_id", "label", "split"):
        assert np.array_equal(first[k], second[k]), k
    np.testing.assert_array_equal(first["logit"], second["logit"])  # same pixels, same model


def test_split_over_the_budget_is_streamed_every_epoch(calib, model):
    shard_dir, expected = calib
    val = ValidationSet(read_shards(shard_dir, split="calib"), str(shard_dir), max_bytes=1024)
    first = val.predict(model, 0.5, 0.25)
    assert not val.cached and len(first["logit"]) == len(expected)
    second = val.predict(model, 0.5, 0.25)  # streamed again from the shards
    np.testing.assert_array_equal(first["logit"], second["logit"])
    val.shard = ReadNoMore()
    with pytest.raises(AssertionError, match="read again"):
        val.predict(model, 0.5, 0.25)


def test_pixel_keeper_drops_everything_once_over_its_budget():
    from triage_ray.train.loop import PixelKeeper

    keep = PixelKeeper(max_bytes=2 * 16)
    keep.add(np.zeros((1, 4, 4), np.uint8))
    keep.add(np.ones((1, 4, 4), np.uint8))
    assert keep.kept().shape == (2, 4, 4) and keep.kept()[1].max() == 1
    keep.add(np.zeros((1, 4, 4), np.uint8))  # 48 bytes > 32: nothing is kept from here on
    assert keep.kept() is None and keep.parts == []
    keep.add(np.zeros((0, 4, 4), np.uint8))
    assert keep.kept() is None
    assert PixelKeeper(100).kept() is None  # an empty split caches nothing
