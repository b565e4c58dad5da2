"""Named presets of the X-ray study's configuration (`sweeps/xray.py --profile NAME`).

Why presets: the defaults describe a 2-core laptop on generated data (64 px, resnet10t, CPU). A
team with its own data and a GPU needs a dozen settings changed together, each for a reason; a
preset names them once, says where each value comes from, and is saved with the run
(`config.profile`). `--set` and `--config` still override any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One preset value and why it is what it is."""

    value: Any
    why: str


# CheXNet (Rajpurkar et al. 2017, arXiv:1711.05225): DenseNet-121, 224 x 224 inputs, Adam with
# lr 0.001 and batches of 16. torchxrayvision's DenseNet-121 weights are trained at 224 px too.
GPU: dict[str, Setting] = {
    "image_size": Setting(224, "CheXNet's and torchxrayvision's DenseNet-121 input size; "
                               "CheXpert competition entries used 320-512 (--set image_size=320)"),
    "image_sizes": Setting(None, "one input size: each searched size multiplies GPU time"),
    "backbones": Setting(["densenet121"], "CheXNet's architecture; torchxrayvision's weight files "
                                          "load into it (--set pretrained=true "
                                          "weights_file='\"/path/densenet121-res224-all.pt\"')"),
    "use_gpu": Setting(True, "every Train worker and every pile-scoring actor takes one GPU"),
    "num_workers": Setting(0, "0: one Train worker per GPU of a node (distributed data parallel), "
                              "counted when Ray has started"),
    "precision": Setting("bf16", "automatic mixed precision; bfloat16 needs no loss scaling. A GPU "
                                 "before Ampere (V100, T4) has no bfloat16: --set "
                                 "precision='\"fp16\"'"),
    "channels_last": Setting(True, "tensor-core convolutions read NHWC; PyTorch's advice for "
                                   "mixed-precision CNNs"),
    "batch_size": Setting(64, "per worker; CheXNet used 16 on 2017 GPUs, a current one has room "
                              "for more at 224 px in bfloat16"),
    "lrs": Setting([1e-4, 1e-3], "around CheXNet's 0.001 (Adam) and ten times lower, the usual "
                                 "range for fine-tuning pretrained weights"),
    "cpus_per_worker": Setting(2.0, "a GPU node has cores to spare; batches are augmented on the "
                                    "worker's CPU before they move to its GPU"),
    "time_budget_min": Setting(None, "the budget measures training speed on the driver's CPU, "
                                     "which says nothing of a GPU's"),
}

PROFILES: dict[str, dict[str, Setting]] = {"gpu": GPU}


def profile_values(name: str) -> dict[str, Any]:
    """The config overrides a profile stands for, with `profile` itself recorded."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return {**{k: s.value for k, s in PROFILES[name].items()}, "profile": name}


def gpus_per_node(nodes: list[dict[str, Any]]) -> int:
    """The most GPUs any alive node of a Ray cluster has (`ray.nodes()`): how many workers one
    node's distributed data parallel run can use."""
    return max((int(n.get("Resources", {}).get("GPU", 0)) for n in nodes if n.get("Alive")),
               default=0)


def fit_to_cluster(cfg, nodes: list[dict[str, Any]]):
    """`cfg` with num_workers=0 resolved to one worker per GPU of a node; a config that asks for
    GPUs the cluster does not have fails here, naming what was found, instead of waiting forever
    for a GPU placement (what Ray Train does when none can be placed)."""
    from dataclasses import replace

    if not cfg.use_gpu:
        return cfg
    gpus = gpus_per_node(nodes)
    if gpus == 0:
        raise RuntimeError("use_gpu=true (--profile gpu sets it) but this Ray cluster has no GPU "
                           f"on any of its {sum(1 for n in nodes if n.get('Alive'))} alive "
                           "node(s): start Ray on a GPU machine, or run without --profile gpu")
    return replace(cfg, num_workers=gpus) if cfg.num_workers == 0 else cfg


def for_scoring(cfg, nodes: list[dict[str, Any]], log=print):
    """`cfg` for scoring a pile on this cluster: a model trained on GPUs scores on the CPU where
    the cluster has none (in float32: CPU autocast is slower, not faster), said in the log; with
    GPUs it scores as it trained, one actor per GPU of a node."""
    from dataclasses import replace

    if not cfg.use_gpu:
        return cfg
    gpus = gpus_per_node(nodes)
    if gpus == 0:
        log("pile scoring: the run trained on GPUs and this cluster has none: scoring on the CPU "
            "in float32")
        return replace(cfg, use_gpu=False, precision="fp32", channels_last=False, num_workers=1)
    return replace(cfg, num_workers=gpus)
