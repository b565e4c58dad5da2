"""The intended-use gate on a DICOM pile that mixes in a lateral view, a child, a hand, a CT and a
blank image, all scored as the most normal-looking studies of the pile: without the gate they would
be auto-cleared; with it every one is "not triaged" with its reason, none is cleared, and every file
in is a worklist row or a named skip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from triage_ray.data.dicom import load_dicom_tree
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.representativeness import add_nih_demographics
from triage_ray.data.stream import batch_to_images, shard_files
from triage_ray.data.synth import generate_nih_tree
from triage_ray.data.synth.dicom import write_dicom_tree
from triage_ray.gate import IntendedUse
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.train.loop import untrained_checkpoint
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.gate import apply_gate, fit_gate, image_features
from triage_ray.xray.pile import score_pile
from triage_ray.xray.score import score_heldout

PX = 64
USE = IntendedUse(ood_false_flag_rate=0.05)  # a small calib split: 5% needs >= 19 studies
EXPECTED = {"lateral view": "view LATERAL", "child": "age 7", "non-chest body part": "body part HAND",
            "other modality": "modality CT", "blank image": "blank image"}


def _logits(rng, n, prior):
    y = (rng.random(n) < prior).astype(np.int8)
    return y, (rng.normal(np.where(y == 1, 2.5, -2.5), 1.6) * 1.7 - 1.2).astype(np.float32)


@pytest.fixture(scope="module")
def scored():
    """A strong model's held-out logits (AUROC ~0.98): its policy auto-clears low scores."""
    rng = np.random.default_rng(0)
    parts = {s: _logits(rng, n, 0.46) for s, n in (("calib", 3000), ("select", 8000), ("test", 3000))}
    held = HeldOutLogits(
        study_id={s: np.array([f"{s}{i}" for i in range(len(y))]) for s, (y, _) in parts.items()},
        label={s: y for s, (y, _) in parts.items()}, logit={s: z for s, (_, z) in parts.items()})
    cfg = XrayConfig.from_dict({"pile_size": 300, "sim_reps": 2})
    return cfg, held, score_heldout(held, cfg, n_boot=50)


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """The gate fitted on generated labelled studies with an (untrained) resnet10t checkpoint."""
    root = tmp_path_factory.mktemp("gate")
    generate_nih_tree(root / "tree", 360, image_size=PX, seed=8, parallel=False, ceiling_sample=0)
    studies = add_nih_demographics(load_nih(root / "tree"), root / "tree")
    studies["split"] = np.array(["train", "train", "calib", "test"])[np.arange(len(studies)) % 4]
    ingest_to_shards(studies, root / "shards", image_size=PX, parallel=False)
    ckpt = untrained_checkpoint(root / "checkpoint")
    return fit_gate(USE, studies, root / "shards", ckpt, root, input_px=PX, seed=0,
                    generated=True, log=lambda *_: None), ckpt


@pytest.fixture(scope="module")
def pile(tmp_path_factory):
    """A DICOM export of 60 generated studies, the five out-of-scope probes and four broken files."""
    root = tmp_path_factory.mktemp("pile")
    generate_nih_tree(root / "tree", 60, image_size=PX, seed=9, parallel=False, ceiling_sample=0)
    src = add_nih_demographics(load_nih(root / "tree", labels=False), root / "tree")
    src = src[src["age"].between(18, 100)]  # the in-scope part: adults (the probes add a child)
    manifest = write_dicom_tree(src, root / "export", out_of_scope=True, broken=True, seed=2)
    studies, not_studies = load_dicom_tree(root / "export")
    ingest = ingest_to_shards(studies, root / "shards", image_size=PX, parallel=False)
    return root, manifest, studies, not_studies, ingest


def _distances(gate_model, ckpt, shards: Path) -> pd.Series:
    ids, images = [], []
    for f in shard_files(shards):
        t = pq.read_table(f, columns=["study_id", "image"]).to_pydict()
        ids += t["study_id"]
        images.append(batch_to_images({"image": t["image"]}))
    return pd.Series(gate_model.detector.distance(image_features(ckpt, np.concatenate(images))),
                     index=ids)


def test_out_of_scope_studies_are_never_triaged(gate, pile, scored, tmp_path):
    gate_model, ckpt = gate
    root, manifest, studies, not_studies, ingest = pile
    cfg, held, sc = scored
    file_kind = {str(Path(f).resolve()): e for f, e in zip(manifest["file"], manifest["expected"],
                                                          strict=True)}
    kind = studies["path"].map(file_kind)
    probe = kind.isin(EXPECTED).to_numpy()
    assert probe.sum() == len(EXPECTED)
    rng = np.random.default_rng(4)
    z = _logits(rng, len(studies), 0.4)[1]
    z[probe] = -9.0  # the most normal-looking scores in the pile
    logits = pd.DataFrame({"study_id": studies["study_id"], "logit": z})

    (tmp_path / "ungated").mkdir()
    ungated = score_pile(studies, logits, sc, held, cfg, tmp_path / "ungated")
    wl0 = ungated.worklist.set_index("study_id")
    assert (wl0.loc[studies["study_id"][probe], "bucket_name"] == "auto_normal").all()  # control

    gated = apply_gate(gate_model, studies, root / "shards",
                       _distances(gate_model, ckpt, root / "shards"))
    (tmp_path / "gated").mkdir()
    result = score_pile(studies, logits, sc, held, cfg, tmp_path / "gated", gate=gated,
                        not_studies=not_studies, skipped=ingest.skipped)
    wl = pd.read_parquet(tmp_path / "gated" / "worklist.parquet").set_index("study_id")
    for sid, k in zip(studies["study_id"][probe], kind[probe], strict=True):
        assert wl.loc[sid, "bucket_name"] == "not_triaged", (k, wl.loc[sid].to_dict())
        assert EXPECTED[k] in wl.loc[sid, "gate_reason"], (k, wl.loc[sid, "gate_reason"])
    assert not (wl["bucket_name"].eq("auto_normal") & wl["gate_reason"].ne("")).any()
    assert result.summary.bucket_counts["auto_normal"] > 0  # in-scope studies are still triaged
    # count in = count out: every file is a worklist row or a named skip
    files = [p for p in (root / "export").rglob("*") if p.is_file()]
    s = result.summary
    assert s.n_studies == len(files) == s.n_scored + s.n_skipped
    assert {Path(d["path"]).name for d in s.skipped} >= {"no-pixels.dcm", "video.dcm", "report.dcm"}
    g = s.gate
    assert g["n_not_triaged"] == (wl["gate_reason"] != "").sum() >= len(EXPECTED)
    assert sum(g["by_reason"].values()) == g["n_not_triaged"]
    assert g["rules"] == USE.describe(PX)


def test_the_feature_check_is_calibrated_and_catches_probe_images(gate):
    gate_model, _ = gate
    check = gate_model.check
    ff = check["false_flag_test"]
    assert ff["n"] > 40 and ff["ci_low"] <= USE.ood_false_flag_rate  # consistent with the target
    assert check["probes"]["blank"]["caught"] == check["probes"]["blank"]["n"]  # image checks
    assert check["probes"]["noise"]["rate"] > 0.9  # unlike any radiograph, even to an untrained net
    assert gate_model.detector.n_calibration >= 19  # enough for a 5% conformal threshold


def test_every_realistic_shift_probe_reports_a_catch_rate_with_its_interval(gate):
    """Another site's processing of the same films, the generator's children, its adults with a
    heavier habitus and a lateral film tagged as frontal: each gets a measured catch rate with its
    interval (a low one is a result), and what no probe stands for is listed as not tested."""
    check = gate[0].check
    shifts = {k: v for k, v in check["probes"].items() if v["family"] == "realistic shift"}
    assert {"site LUT: gamma 0.6", "edge enhancement (unsharp mask x1.5)", "burnt-in text band",
            "collimation (15% black border)", "children aged 2-8 (generated)",
            "lateral films tagged as frontal (drawn)",
            "portable AP, heavier habitus (generated)"} <= set(shifts)
    for kind, v in shifts.items():
        assert v["n"] > 0 and 0 <= v["ci_low"] <= v["rate"] <= v["ci_high"] <= 1, kind
        assert v["rate"] == v["caught"] / v["n"] and v["caught"] >= v["feature_check"]
    assert any("disease mix" in t for t in check["not_tested"])
    assert not any("lateral" in t for t in check["not_tested"])  # a generated run probes it
    assert all(v["family"] == "broken image" for k, v in check["probes"].items()
               if k in ("blank", "noise"))


def test_both_feature_checks_are_measured_on_the_same_films(gate):
    """The per-stage check (the default) and the pooled one are each fitted, calibrated to the same
    target and tried on the same probe films; the gate uses the intended use's and reports both."""
    gate_model, _ = gate
    check = gate_model.check
    assert set(check["compared"]) == {"stages", "pooled"}
    assert check["detector"]["feature_check"] == USE.feature_check == "stages"
    assert gate_model.detector.stages[-1] == "pooled" and len(gate_model.detector.stages) > 2
    for method, c in check["compared"].items():
        assert c["false_flag_test"]["n"] == check["false_flag_test"]["n"], method
        assert set(c["feature_check_alone"]) == set(check["probes"]), method
    used = check["compared"]["stages"]
    assert used["false_flag_test"] == check["false_flag_test"]
    assert all(used["feature_check_alone"][k]["caught"] == v["feature_check"]
               for k, v in check["probes"].items())


def test_labelled_studies_with_no_adult_stop_the_run_before_training():
    """A generic CSV without an age column: every study is "age not stated". The run must stop
    before the sweep, naming the reason and the ways out, not crash in the gate after it."""
    from triage_ray.xray.gate import check_labelled_scope

    mini_generic_no_age = pd.DataFrame({
        "study_id": [f"s{i}" for i in range(10)], "patient_id": [f"p{i}" for i in range(10)],
        "view": "PA", "path": "/nowhere.png", "label": 0, "findings": "", "source": "generic"})

    with pytest.raises(ValueError, match=r"age not stated for 100%.*site_declares_adults"):
        check_labelled_scope(IntendedUse(), mini_generic_no_age, 32)
    n = check_labelled_scope(IntendedUse(site_declares_adults=True), mini_generic_no_age, 32)
    assert n == len(mini_generic_no_age)
    aged = mini_generic_no_age.assign(age=[30.0, 8.0] * (len(mini_generic_no_age) // 2))
    assert check_labelled_scope(IntendedUse(), aged, 32) == len(aged) // 2
