"""sweeps/pretrain.py as a user runs it: timm-loadable weights, a card, and a cache hit on rerun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from shell_runs import BIN, plain_shell_env

from triage_ray.common.paths import DATA_DIR_ENV
from triage_ray.models import create_backbone

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pretrain_smoke_writes_loadable_weights_and_is_cached(smoke_pretrain, smoke_data_dir):
    """The session's smoke pretraining (a plain shell, tests/conftest.py), then the same command
    again: a cache hit, no Ray started."""
    out = smoke_pretrain.out_dir
    card = json.loads((out / "card.json").read_text())
    assert card["corpus"]["n_studies"] == 400 and card["corpus"]["generated"]
    assert [h["epoch_done"] for h in card["history"]] == [1]
    assert "GENERATED DATA" in (out / "card.md").read_text()
    assert str(smoke_data_dir) in str(out)  # TRIAGE_RAY_DATA_DIR decides where the cache lives

    saved = torch.load(out / "weights.pth", weights_only=True)
    model = create_backbone("resnet10t", pretrained=True, weights_file=out / "weights.pth",
                            num_outputs=1)
    for name, value in model.state_dict().items():
        if not name.startswith("fc."):  # the backbone is the pretrained one, the head is new
            assert torch.equal(value, saved[name]), name
    assert not torch.equal(model.state_dict()["fc.weight"], saved["fc.weight"][:1])

    env = {**plain_shell_env(), DATA_DIR_ENV: str(smoke_data_dir)}
    again = subprocess.run([str(BIN / "python"), "sweeps/pretrain.py", "--smoke"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "cached" in again.stdout, again.stderr[-3000:]
    assert "Started a local Ray instance" in smoke_pretrain.log  # the first run trained
    assert "Started a local Ray instance" not in again.stdout + again.stderr


def test_the_smoke_pretraining_is_the_one_the_smoke_study_uses():
    """`sweeps/pretrain.py --smoke` makes the cache entry `sweeps/xray.py --smoke` looks up."""
    from triage_ray.xray.config import XrayConfig
    from triage_ray.xray.pretrain import PretrainConfig, for_run, smoke_overrides

    smoke = XrayConfig.smoke_config()
    for backbone in smoke.backbones:
        made = PretrainConfig.from_dict({**smoke_overrides(), "backbone": backbone})
        assert made.key() == for_run(smoke, backbone).key()
    assert PretrainConfig.simclr(**smoke_overrides("simclr")).n_studies == 800


@pytest.mark.slow
def test_simclr_pretrain_reads_no_label_and_writes_loadable_weights(tmp_path):
    cmd = [sys.executable, "sweeps/pretrain.py", "--smoke", "--method", "simclr", "--set",
           f'out_root="{tmp_path}"']
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (out,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    card = json.loads((out / "card.json").read_text())
    assert card["corpus"]["labels_read"] is False and "SimCLR" in card["method"]
    assert card["params"]["seed"] == 1 and "pile-n800" in card["corpus"]["root"]  # the pile's tree
    assert [h["epoch_done"] for h in card["history"]] == [1] and card["history"][0]["train_loss"] > 0
    assert "contrastive" in (out / "card.md").read_text()
    model = create_backbone("resnet10t", pretrained=True, weights_file=out / "weights.pth",
                            num_outputs=15)
    saved = torch.load(out / "weights.pth", weights_only=True)
    assert torch.equal(model.state_dict()["layer1.0.conv1.weight"], saved["layer1.0.conv1.weight"])


def test_a_runs_pretrain_init_maps_to_its_pretraining():
    """Supervised: the default corpus (so the cached default weights are reused); SimCLR: the
    run's own pile tree (its size, seed and prevalence), no labels."""
    from triage_ray.xray.config import XrayConfig
    from triage_ray.xray.pretrain import PretrainConfig, for_run

    assert for_run(XrayConfig(), "resnet10t").key() == PretrainConfig().key()
    ssl = for_run(XrayConfig(pretrain_method="simclr", pile_size=5000), "resnet10t")
    assert (ssl.method, ssl.n_studies, ssl.seed, ssl.prevalence) == ("simclr", 5000, 1, 0.4)
    assert ssl.key() != PretrainConfig.simclr().key()  # another pile size, another cache entry
