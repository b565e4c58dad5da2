"""Every tensor a training or prediction step hands the model is on the model's device.

No GPU here, so the model is put on PyTorch's `meta` device: meta tensors carry shapes and no data,
and PyTorch refuses to mix them with CPU tensors ("Tensor on device meta is not on the expected
device cpu!"). A step that leaves a batch, its labels or a view on the CPU fails with that error;
a step that moves them runs the forward pass, the loss, the backward pass and the optimiser step,
and stops only where a number has to come back (`.item()`, `.cpu()`), which a meta tensor cannot
give. That is the same path a GPU worker takes, where the batches come from Ray Data on the CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from triage_ray.models import create_backbone
from triage_ray.train.schedules import build_optimizer
from triage_ray.train.steps import array_chunks, predict, train_epoch
from triage_ray.train.supervision import get_supervision
from triage_ray.train.tensors import model_device

NO_DATA = "meta tensors|meta tensor; no data"  # where the step asks for a number back
MIXED = "expected device"  # what a batch left on the CPU gives


def meta_model(n_outputs: int = 1) -> torch.nn.Module:
    return create_backbone("resnet10t", num_outputs=n_outputs).to("meta")


def cpu_batches(n: int = 2, k: int = 1):
    images = np.random.default_rng(0).integers(0, 255, size=(8, 32, 32), dtype=np.uint8)
    for chunk in list(array_chunks(images, 4))[:n]:
        yield chunk, torch.zeros((len(chunk), k))


def test_a_training_step_moves_batch_and_labels_to_the_models_device():
    model = meta_model(3)
    optimizer, _ = build_optimizer(model, lr=1e-3, weight_decay=0.0, epochs=1, schedule="cosine",
                                   steps_per_epoch=None)
    sup = get_supervision("multilabel", ["Effusion", "Nodule"])
    with pytest.raises((RuntimeError, NotImplementedError), match=NO_DATA):
        train_epoch(model, cpu_batches(k=3), optimizer, sup, mean=0.5, std=0.25, augment=0.5,
                    generator=torch.Generator())
    assert all(p.grad is not None and p.grad.device.type == "meta"
               for p in model.parameters() if p.requires_grad)  # backward ran on the device


def test_prediction_moves_each_batch_to_the_model_and_its_logits_back():
    model = meta_model()
    images = np.zeros((6, 32, 32), dtype=np.uint8)
    with pytest.raises((RuntimeError, NotImplementedError), match=NO_DATA):
        predict(model, array_chunks(images, 4), mean=0.5, std=0.25)
    cpu = create_backbone("resnet10t", num_outputs=1)
    out = predict(cpu, array_chunks(images, 4), mean=0.5, std=0.25)
    assert out.shape == (6, 1) and out.dtype == np.float32 and model_device(cpu).type == "cpu"


def test_a_step_that_leaves_the_batch_on_the_cpu_is_caught():
    """The check itself: a meta model fed a CPU batch fails with the mixed-device error."""
    model = meta_model()
    with pytest.raises(RuntimeError, match=MIXED):
        model(torch.zeros((2, 1, 32, 32)))


def test_simclr_views_go_to_the_backbones_device():
    from lightly.models.modules import SimCLRProjectionHead

    from triage_ray.train.ssl import simclr_epoch

    backbone = create_backbone("resnet10t", num_outputs=0).to("meta")
    head = SimCLRProjectionHead(backbone.num_features, 32, 16).to("meta")
    optimizer = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=1e-3)
    batches = (x for x, _ in cpu_batches())

    def agreement(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """A stand-in for NT-Xent, whose negatives need data a meta tensor lacks (nonzero)."""
        return ((a - b) ** 2).mean()

    with pytest.raises((RuntimeError, NotImplementedError), match=NO_DATA):
        simclr_epoch(backbone, head, batches, optimizer, agreement, mean=0.5, std=0.25,
                     strength=0.5, generator=torch.Generator())


def test_pile_predictor_runs_on_the_device_it_is_given(tmp_path):
    from triage_ray.train.loop import untrained_checkpoint
    from triage_ray.xray.predict import LogitPredictor

    ckpt = untrained_checkpoint(tmp_path / "ckpt")
    images = np.zeros((3, 64, 64), dtype=np.uint8)  # the shard's image column: raw H*W bytes
    batch = {"study_id": np.array(["a", "b", "c"]),
             "image": np.array([im.tobytes() for im in images], dtype=object)}
    on_meta = LogitPredictor(str(ckpt), device="meta")
    assert model_device(on_meta.model).type == "meta"
    with pytest.raises((RuntimeError, NotImplementedError), match=NO_DATA):
        on_meta(batch)
    out = LogitPredictor(str(ckpt))(batch)
    assert out["logit"].shape == (3,) and out["logit"].dtype == np.float32
    assert json.loads((ckpt / "meta.json").read_text())["backbone"] == "resnet10t"
