"""The rest of the real layouts end to end, each trained on, gated and triaging a pile: NIH
ChestX-ray14 (triaging an unlabeled pile in the NIH layout), MIMIC-CXR-JPG and the generic CSV
(each triaging a generated pile, so their banners must say MIXED DATA). Built from the real tables
torchxrayvision installs (tests/real_layouts.py); CheXpert with a DICOM pile runs from a shell in
tests/test_real_layout_run.py. In this session's Ray, one trial of one epoch each: these check
that a layout's table reaches every stage, not what the model learns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from real_layouts import write_generic_csv, write_mimic_tree, write_nih_tree
from shell_runs import sweep_script

from triage_ray.common.paths import DATA_DIR_ENV

TINY = ["n_trials=1", 'backbones=["resnet10t"]', "image_sizes=null", 'inits=["scratch"]',
        "learning_curve_sizes=[]", "pile_size=200", "op_alphas=[0.05]",
        "op_aging_caps_days=[null]", 'intended_use={"ood_false_flag_rate": 0.05}']
N_LABELLED, N_PILE = 480, 120

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, tuple[list[str], list[str]]]:
    """source -> (the flags that point the study at its tree, its --set items)."""
    base = tmp_path_factory.mktemp("layouts")
    nih = base / "nih"
    table = write_nih_tree(nih, slice(0, N_LABELLED), 64)
    write_nih_tree(base / "nih-pile", slice(N_LABELLED, N_LABELLED + N_PILE), 64, labels=False)
    mimic = write_mimic_tree(base / "mimic", N_LABELLED // 2, 64)
    return {"nih": (["--data-root", str(nih), "--pile-source", "nih",
                     "--pile-root", str(base / "nih-pile")], []),
            "mimic": (["--data-root", str(mimic)], []),
            "generic": (["--data-root", str(nih)],
                        [f'labels_csv="{write_generic_csv(nih, table)}"'])}


@pytest.mark.parametrize("source", ["nih", "mimic", "generic"])
def test_each_layout_trains_gates_and_triages(source, layouts, ray_local, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path.parent / "data"))  # one generated pile for all
    flags, sets = layouts[source]
    run_dir = sweep_script("xray", f"xray_sweep_{source}").main(
        ["--smoke", "--source", source, *flags, "--reports-dir", str(tmp_path / "reports"),
         "--set", *TINY, *sets])  # `sweeps/xray.py` in this process (the session's Ray)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    prov = metrics["provenance"]
    assert metrics["data"]["source"] == source and not prov["training"]["generated"]
    assert metrics["data"]["n_studies"] > 100
    check = json.loads((run_dir / "gate_check.json").read_text())
    assert check["in_scope_labelled"] > 0 and check["false_flag_test"]["n"] > 0
    config = json.loads((run_dir / "config.json").read_text())
    # the generic CSV names no finding: per-finding supervision falls back to the abnormal label
    assert config["supervision"] == ("binary" if source == "generic" else "multilabel")
    (trial,) = metrics["sweep"]["trials"]
    assert trial["status"] == "done"
    pile = metrics["pile"]
    assert pile["n_studies"] == pile["n_scored"] + pile["n_skipped"]
    wl = pd.read_parquet(run_dir / "worklist.parquet")
    assert len(wl) == pile["n_scored"] and wl["study_id"].is_unique
    banner = ("Real data: training data real" if source == "nih"
              else "MIXED DATA: the model was trained and certified on real studies")
    assert metrics["data_note"].startswith(banner)
    if source == "nih":
        assert pile["layout"] == "nih" and pile["n_studies"] == N_PILE
        assert (wl["gate_reason"] == "").any()  # adults with a stated view reach triage
    for name in ("memo.md", "model_card.md", "summary.md", "dashboard.html",
                 "deployment/deployment.json"):
        assert (run_dir / name).is_file(), name
    assert banner in (run_dir / "memo.md").read_text()
