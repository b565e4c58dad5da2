"""Mixed precision and channels-last on the CPU: the autocast path runs (bfloat16), its logits stay
finite and near float32's, and what a CPU cannot run is refused before the first batch.

The dtype a convolution computes in is read with a forward hook, so a step that ignores its
`StepPrecision` (and runs float32) fails these tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from triage_ray.models import create_backbone
from triage_ray.train.loop import untrained_checkpoint
from triage_ray.train.precision import FP32, StepPrecision
from triage_ray.train.schedules import build_optimizer
from triage_ray.train.steps import array_batches, array_chunks, predict, train_epoch
from triage_ray.train.supervision import get_supervision

BF16_CL = StepPrecision("bf16", channels_last=True)


def images(n: int = 16, px: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(n, px, px), dtype=np.uint8)


def conv_record(model: torch.nn.Module) -> list[tuple[torch.dtype, bool]]:
    """(output dtype, input channels-last) of every call of the first convolution that reads more
    than one channel (a 1-channel input is contiguous in both layouts)."""
    seen: list[tuple[torch.dtype, bool]] = []
    conv = next(m for m in model.modules()
                if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    conv.register_forward_hook(lambda m, args, out: seen.append(
        (out.dtype, args[0].is_contiguous(memory_format=torch.channels_last)
         and not args[0].is_contiguous())))
    return seen


def train_once(step: StepPrecision) -> tuple[float, list[tuple[torch.dtype, bool]], np.ndarray]:
    torch.manual_seed(0)
    model = step.prepare_model(create_backbone("resnet10t", num_outputs=3))
    seen = conv_record(model)
    optimizer, _ = build_optimizer(model, lr=1e-3, weight_decay=0.0, epochs=1, schedule="cosine",
                                   steps_per_epoch=None)
    sup = get_supervision("multilabel", ["Effusion", "Nodule"])
    targets = np.random.default_rng(1).integers(0, 2, size=(16, 3)).astype(np.float32)
    loss, n = train_epoch(model, array_batches(images(), targets, 8, np.random.default_rng(2)),
                          optimizer, sup, mean=0.5, std=0.25, step=step)
    logits = predict(model, array_chunks(images(), 8), mean=0.5, std=0.25, step=step)
    assert n == 16
    return loss, seen, logits


def test_bf16_autocast_trains_and_predicts_with_finite_float32_logits():
    loss, seen, logits = train_once(BF16_CL)
    assert np.isfinite(loss)
    assert {dtype for dtype, _ in seen} == {torch.bfloat16}  # the convolutions ran in bfloat16
    assert all(channels_last for _, channels_last in seen)
    assert logits.dtype == np.float32 and logits.shape == (16, 3) and np.isfinite(logits).all()


def test_fp32_is_unchanged_and_near_the_bf16_run():
    loss32, seen, logits32 = train_once(FP32)
    assert {dtype for dtype, _ in seen} == {torch.float32}
    assert not any(channels_last for _, channels_last in seen)
    loss16, _, logits16 = train_once(BF16_CL)
    # bfloat16 keeps 8 bits of mantissa: the same step, rounded, not a different one
    assert loss16 == pytest.approx(loss32, rel=0.05)
    assert np.corrcoef(logits16[:, 0], logits32[:, 0])[0, 1] > 0.9


def test_pile_scoring_in_bf16_channels_last_on_the_cpu(tmp_path):
    from triage_ray.xray.predict import LogitPredictor

    ckpt = untrained_checkpoint(tmp_path / "ckpt")
    # a shard batch's columns: the image column holds each study's raw H*W bytes (data.stream)
    batch = {"study_id": np.array([f"s{i}" for i in range(6)]),
             "image": np.array([im.tobytes() for im in images(6)], dtype=object)}
    # the gate's per-stage features come from the same pass, in the same precision
    from triage_ray.gate.ood import FeatureDistance
    from triage_ray.xray.gate import image_features

    feats = image_features(ckpt, images(30))
    detector = FeatureDistance.fit(feats).calibrate(feats, 0.2).save(tmp_path / "ood.npz")
    fp32 = LogitPredictor(str(ckpt), detector_file=str(detector))(batch)
    mixed = LogitPredictor(str(ckpt), step=BF16_CL, detector_file=str(detector))(batch)
    for k in ("logit", "ood_distance"):
        assert mixed[k].dtype == np.float32 and np.isfinite(mixed[k]).all(), k
    assert np.abs(mixed["logit"] - fp32["logit"]).max() < 0.1 * max(1.0, np.abs(fp32["logit"]).max())
    # without a detector no stage statistics are computed, and the logits are the same
    plain = LogitPredictor(str(ckpt))(batch)
    assert "ood_distance" not in plain and np.allclose(plain["logit"], fp32["logit"], atol=1e-5)
    # images unlike the fitted ones (smooth ramps, not noise) are the farthest in both precisions
    ramps = np.broadcast_to(np.linspace(0, 255, 32, dtype=np.uint8), (3, 32, 32))
    odd = {"study_id": np.array(["n0", "n1", "n2", "r0", "r1", "r2"]),
           "image": np.array([im.tobytes() for im in (*images(3), *ramps)], dtype=object)}
    for step in (FP32, BF16_CL):
        d = LogitPredictor(str(ckpt), step=step, detector_file=str(detector))(odd)["ood_distance"]
        assert d[3:].min() > d[:3].max(), (step, d)


def test_what_a_cpu_cannot_run_is_refused_before_the_first_batch():
    with pytest.raises(ValueError, match="fp16.*needs a GPU"):
        StepPrecision("fp16").check_device(torch.device("cpu"))
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        StepPrecision("fp8")
    StepPrecision("bf16").check_device(torch.device("cpu"))  # runs (slowly) on a CPU
    assert not StepPrecision("bf16").scaler(torch.device("cpu")).is_enabled()


def test_the_worker_config_carries_precision_and_memory_format():
    assert StepPrecision.from_config({}) == FP32  # an older worker config: as before
    got = StepPrecision.from_config({"precision": "bf16", "channels_last": True})
    assert got == BF16_CL and got.mixed and not FP32.mixed
