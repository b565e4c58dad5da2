"""`--profile gpu`: a validated preset, resolved against the cluster Ray reports, refused plainly
on a machine without a GPU (this one), and a GPU-trained model that scores on the CPU here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.profiles import (
    GPU,
    fit_to_cluster,
    for_scoring,
    gpus_per_node,
    profile_values,
)
from triage_ray.xray.sources import startup_notes

ROOT = Path(__file__).parents[2]


def gpu_node(gpus: float, alive: bool = True) -> dict:
    """A node as `ray.nodes()` lists it (the keys fit_to_cluster reads)."""
    return {"Alive": alive, "Resources": {"CPU": 16.0, "GPU": gpus}}


def test_the_gpu_profile_is_a_valid_config_and_says_why_for_every_value():
    cfg = XrayConfig.from_dict(profile_values("gpu"))
    assert (cfg.image_size, cfg.backbones, cfg.precision) == (224, ["densenet121"], "bf16")
    assert cfg.use_gpu and cfg.channels_last and cfg.num_workers == 0 and cfg.profile == "gpu"
    assert cfg.time_budget_min is None and cfg.input_sizes() == [224]
    assert all(len(s.why) > 20 for s in GPU.values())
    # --set still wins over the profile (how sweeps/xray.py merges them)
    assert XrayConfig.from_dict({**profile_values("gpu"), "image_size": 320}).image_size == 320
    with pytest.raises(ValueError, match="unknown profile 'tpu'"):
        profile_values("tpu")
    assert "profile gpu: 1 Train worker per GPU of a node on GPUs, bf16, channels-last" in (
        startup_notes(cfg)[0])


def test_settings_a_cpu_run_cannot_use_are_refused_at_start_up():
    with pytest.raises(ValueError, match="fp16.*needs use_gpu"):
        XrayConfig.from_dict({"precision": "fp16"})
    with pytest.raises(ValueError, match="num_workers must be >= 1"):
        XrayConfig.from_dict({"num_workers": 0})
    with pytest.raises(ValueError, match="time_budget_min measures training speed"):
        XrayConfig.from_dict({"use_gpu": True})
    with pytest.raises(ValueError, match="precision"):
        XrayConfig.from_dict({"precision": "half"})
    assert XrayConfig.from_dict({"precision": "bf16", "channels_last": True}).precision == "bf16"


def test_one_worker_per_gpu_of_a_node_and_a_clear_error_without_gpus():
    cfg = XrayConfig.from_dict(profile_values("gpu"))
    nodes = [gpu_node(0), gpu_node(4), gpu_node(8, alive=False)]
    assert gpus_per_node(nodes) == 4
    assert fit_to_cluster(cfg, nodes).num_workers == 4
    set_by_hand = XrayConfig.from_dict({**profile_values("gpu"), "num_workers": 2})
    assert fit_to_cluster(set_by_hand, nodes).num_workers == 2
    with pytest.raises(RuntimeError, match="no GPU on any of its 1 alive node"):
        fit_to_cluster(cfg, [gpu_node(0)])
    cpu = XrayConfig()
    assert fit_to_cluster(cpu, []) is cpu


def test_a_gpu_trained_model_scores_on_the_cpu_where_the_cluster_has_no_gpu(ray_local):
    import ray

    cfg = fit_to_cluster(XrayConfig.from_dict(profile_values("gpu")), [gpu_node(1)])
    said: list[str] = []
    here = for_scoring(cfg, ray.nodes(), said.append)  # this machine's real Ray: no GPU
    assert not here.use_gpu and here.precision == "fp32" and here.num_workers == 1
    assert "scoring on the CPU" in said[0]
    assert for_scoring(cfg, [gpu_node(2)]).num_workers == 2  # with GPUs: one actor per GPU


@pytest.mark.slow
def test_the_sweep_refuses_the_gpu_profile_plainly_on_a_machine_without_one():
    """What a user runs: `python sweeps/xray.py --smoke --profile gpu` on a CPU-only machine ends
    with one line naming the problem, before any data is made (not a Train run waiting forever
    for a GPU it cannot place)."""
    out = subprocess.run([sys.executable, "sweeps/xray.py", "--smoke", "--profile", "gpu"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "no GPU on any of its 1 alive node(s)" in out.stderr
    assert "Traceback" not in out.stderr and "generating" not in out.stdout
    assert "profile gpu: 1 Train worker per GPU of a node on GPUs, bf16" in out.stdout
