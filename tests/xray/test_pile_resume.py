"""Pile scoring killed part-way (SIGKILL to the scoring process and its local Ray), then re-run:
the resumed run scores only what no committed chunk holds, and the result has every study exactly
once, with the logits an uninterrupted run gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.synth import generate_nih_tree
from triage_ray.train.loop import untrained_checkpoint
from triage_ray.xray.chunks import LogitChunks
from triage_ray.xray.predict import score_shards, shard_study_ids

REPO = Path(__file__).resolve().parents[2]
N_PILE = 1200
CHUNK_ROWS = 200


@pytest.fixture(scope="module")
def pile(tmp_path_factory):
    """A generated pile's shards and an (untrained) resnet10t checkpoint in the pipeline's format."""
    root = tmp_path_factory.mktemp("pile")
    generate_nih_tree(root / "tree", N_PILE, image_size=64, seed=5, parallel=False,
                      ceiling_sample=0)
    studies = load_nih(root / "tree")
    ingest_to_shards(studies, root / "shards", image_size=64, rows_per_shard=500, parallel=False)
    ckpt = untrained_checkpoint(root / "checkpoint")
    return root / "shards", ckpt


def scoring_command(shards: Path, ckpt: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "triage_ray.xray.predict", "--shards", str(shards),
            "--checkpoint", str(ckpt), "--out", str(out), "--chunk-rows", str(CHUNK_ROWS),
            "--torch-threads", "1"]


def kill_after_first_chunk(cmd: list[str], chunk_dir: Path, kill_when) -> int:
    """Start `cmd` in its own process group; SIGKILL the whole group (the scorer and the Ray it
    started) once a chunk is committed. Returns the rows committed at that moment."""
    log = chunk_dir.parent.parent / f"{chunk_dir.parent.name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    kill_when(proc, lambda: bool(list(chunk_dir.glob("chunk-*.parquet"))), timeout_s=180,
              poll_s=0.05, what="a committed chunk", log=log)
    return sum(len(pd.read_parquet(f)) for f in chunk_dir.glob("chunk-*.parquet"))


@pytest.mark.slow
def test_pile_scoring_killed_part_way_resumes_every_study_once(ray_local, pile, tmp_path,
                                                               kill_when):
    shards, ckpt = pile
    ids = shard_study_ids(shards)
    reference = score_shards(shards, ckpt, tmp_path / "uninterrupted", chunk_rows=CHUNK_ROWS,
                             torch_threads=1)
    out = tmp_path / "scored"
    committed = kill_after_first_chunk(scoring_command(shards, ckpt, out), out / "chunks",
                                       kill_when)
    assert 0 < committed < N_PILE, "the kill must land part-way through the pile"
    assert not (out / "logits.parquet").exists()

    again = subprocess.run(scoring_command(shards, ckpt, out), cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{committed:,} already committed" in again.stdout  # only the rest was scored
    rows = pd.read_parquet(out / "logits.parquet")
    assert len(rows) == N_PILE == len(ids)  # count in = count out
    assert rows["study_id"].is_unique and set(rows["study_id"]) == set(ids)
    merged = rows.merge(reference, on="study_id", suffixes=("", "_ref"), validate="1:1")
    np.testing.assert_allclose(merged["logit"], merged["logit_ref"], rtol=0, atol=1e-4)


def test_chunks_of_another_model_are_cleared_not_mixed(tmp_path):
    first = LogitChunks.open(tmp_path, {"checkpoint": "a", "n_studies": 2, "pile": "x"})
    first.commit(pd.DataFrame({"study_id": ["s1"], "logit": np.float32([0.5])}))
    same = LogitChunks.open(tmp_path, {"checkpoint": "a", "n_studies": 2, "pile": "x"})
    assert list(same.committed()["study_id"]) == ["s1"]
    said: list[str] = []
    other = LogitChunks.open(tmp_path, {"checkpoint": "b", "n_studies": 2, "pile": "x"},
                             log=said.append)
    assert other.committed().empty and "another model or pile" in said[0]
    other.commit(pd.DataFrame({"study_id": ["s1"], "logit": np.float32([0.1])}))
    other.commit(pd.DataFrame({"study_id": ["s1"], "logit": np.float32([0.2])}))
    with pytest.raises(RuntimeError, match="more than one chunk"):
        other.committed()
