"""sweeps/pretrain.py as a user runs it: timm-loadable weights, a card, and a cache hit on rerun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from triage_ray.models import create_backbone

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pretrain_smoke_writes_loadable_weights_and_is_cached(tmp_path):
    cmd = [sys.executable, "sweeps/pretrain.py", "--smoke", "--set", f'out_root="{tmp_path}"']
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    (out,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    card = json.loads((out / "card.json").read_text())
    assert card["corpus"]["n_studies"] == 800 and card["corpus"]["generated"]
    assert [h["epoch_done"] for h in card["history"]] == [1]
    assert "GENERATED DATA" in (out / "card.md").read_text()

    saved = torch.load(out / "weights.pth", weights_only=True)
    model = create_backbone("resnet10t", pretrained=True, weights_file=out / "weights.pth",
                            num_outputs=1)
    for name, value in model.state_dict().items():
        if not name.startswith("fc."):  # the backbone is the pretrained one, the head is new
            assert torch.equal(value, saved[name]), name
    assert not torch.equal(model.state_dict()["fc.weight"], saved["fc.weight"][:1])

    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "cached" in again.stdout
