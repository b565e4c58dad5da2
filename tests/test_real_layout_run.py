"""A hospital's own data end to end, the way a team runs it: a CheXpert copy (the real train.csv
rows: Sex, Age, views, blank/1/0/-1 labels) to train on and a PACS export carrying the RSNA
challenge's real DICOM headers (PatientAge "43") as the pile, from a plain shell with the README's
command. Identifiers planted in the export's DICOM tags must reach no file of the run and no log.

Before the fix this run crashed after the sweep: CheXpert's Sex and Age were not read, the gate
found no adult among the labelled studies and the feature check had nothing to fit on; and every
plain-number age in the pile read as "not stated"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from real_layouts import write_chexpert_tree, write_rsna_pile
from shell_runs import BIN, REPO, plain_shell_env, run_logged

from triage_ray.common.paths import DATA_DIR_ENV

# identifiers a PACS export carries that no output may repeat (each unlikely anywhere by chance)
SENTINELS = {"PatientName": "Zyxwv^Sentinel^Q", "PatientBirthDate": "18991231",
             "InstitutionName": "Sentinel Qvist General", "AccessionNumber": "ACCQ7X9SENT",
             "ReferringPhysicianName": "Refz^Sentinel"}
QUICK = ["n_trials=1", 'backbones=["resnet10t"]', "image_sizes=null", "learning_curve_sizes=[]",
         # ~90 calibration studies: a 1% false-flag threshold needs 99 (the run says so); 5% needs 19
         'intended_use={"ood_false_flag_rate": 0.05}']

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    base = tmp_path_factory.mktemp("real-layouts")
    root = write_chexpert_tree(base / "chexpert", 1200, 64)
    pile = base / "pacs"
    headers = write_rsna_pile(pile, n_adults=60, size=80, extra=SENTINELS)
    log = base / "run.log"
    env = {**plain_shell_env(), DATA_DIR_ENV: str(base / "data")}
    run_logged([str(BIN / "python"), "sweeps/xray.py", "--smoke", "--source", "chexpert",
                "--data-root", str(root), "--pile-root", str(pile), "--pile-source", "dicom",
                "--reports-dir", str(base / "reports"), "--set", *QUICK], log, env, 1500)
    (run_dir,) = list((base / "reports").iterdir())
    return run_dir, log, headers


def test_chexpert_trains_gates_and_triages_a_real_header_pile(real_run):
    run_dir, _, headers = real_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    check = json.loads((run_dir / "gate_check.json").read_text())
    assert check["in_scope_labelled"] > 0  # CheXpert's ages reached the gate
    assert metrics["data"]["source"] == "chexpert"
    prov = metrics["provenance"]
    assert not (prov["training"]["generated"] or prov["reference"]["generated"]
                or prov["pile"]["generated"])
    assert metrics["data_note"].startswith("Real data") and not metrics["generated_data"]
    pile = metrics["pile"]
    assert pile["n_studies"] == pile["n_scored"] == len(headers)  # count in = count out
    wl = pd.read_parquet(run_dir / "worklist.parquet")
    age = pd.to_numeric(headers.set_index("PatientID")["PatientAge"])
    reasons = wl.set_index("patient_id")["gate_reason"].str.split("; ")
    for pid, a in age.items():
        on_age = [r for r in reasons[pid] if r.startswith("age")]
        if a < 18:
            assert on_age == [f"age {a:g} (under 18)"]
        elif a > 120:
            assert on_age == [f"age {a:g} is not plausible"]
        else:
            assert on_age == []  # "43" read as 43 years, not "not stated"
    assert (wl["gate_reason"] == "").sum() > 0 and pile["gate"]["nothing_in_scope"] is False
    for name in ("memo.md", "model_card.md", "summary.md", "review.html", "dashboard.html"):
        assert "Real data: training data real (chexpert at" in (run_dir / name).read_text(), name


def test_a_real_source_says_what_it_will_do_before_ray_starts(real_run):
    _, log, _ = real_run
    text = log.read_text()
    said = text.index("source chexpert at")
    assert said < text.index("Started a local Ray instance")
    assert "WARNING: training at 64 px" in text and "--set image_size=224" in text
    assert "WARNING: a real source with a GENERATED pile" not in text  # --pile-root was given


def test_identifiers_in_the_exports_tags_reach_no_output_and_no_log(real_run):
    run_dir, log, _ = real_run
    files = [p for p in run_dir.rglob("*") if p.is_file()] + [log]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        for tag, value in SENTINELS.items():
            assert value.encode() not in data, f"{tag} reached {path}"


def test_the_run_exports_a_copy_without_its_patients_ids(real_run, tmp_path):
    run_dir, _, headers = real_run
    out = tmp_path / "share"
    res = subprocess.run([str(BIN / "python"), "-m", "triage_ray.report", str(run_dir),
                          "--export-deidentified", str(out)], env=plain_shell_env(),
                         capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    text = b"".join(p.read_bytes() for p in out.rglob("*") if p.suffix != ".pdf")
    for pid in headers["PatientID"]:  # the export's UUID patient ids (also its file names)
        assert pid.encode() not in text
    assert not (out / "review.html").exists() and (out / "memo.pdf").is_file()


def test_a_new_pile_is_triaged_with_the_runs_model_without_training(real_run, tmp_path):
    """What a site does every week once it accepts a model: the run's model, calibrator,
    thresholds and gate triage a pile from a shell, no training. On the run's own export that
    must reproduce the run's worklist study for study, and no identifier may reach its outputs."""
    run_dir, _, headers = real_run
    pile_root = json.loads((run_dir / "config.json").read_text())["pile_root"]
    out, log = tmp_path / "this-week", tmp_path / "pile.log"
    run_logged([str(BIN / "python"), "sweeps/score_pile.py", "--run", str(run_dir),
                "--pile-root", pile_root, "--pile-source", "dicom", "--out", str(out)],
               log, plain_shell_env(), 600)
    text = log.read_text()
    assert text.index("no training") < text.index("Started a local Ray instance")
    cols = ["study_id", "patient_id", "bucket_name", "read_rank", "gate_reason"]
    before, now = (pd.read_parquet(d / "worklist.parquet") for d in (run_dir, out))
    assert len(now) == len(headers)
    pd.testing.assert_frame_equal(now[cols].reset_index(drop=True),
                                  before[cols].reset_index(drop=True))
    assert now["p_calibrated"].to_numpy() == pytest.approx(before["p_calibrated"].to_numpy(),
                                                           abs=1e-6)
    record = json.loads((out / "pile.json").read_text())
    assert record["source_run"] == run_dir.name and record["data_note"].startswith("Real data")
    assert record["pile"]["n_studies"] == record["pile"]["n_scored"] == len(headers)
    summary = (out / "summary.md").read_text()
    assert "Real data: training data real (chexpert at" in summary and "No training ran" in summary
    for path in [p for p in out.rglob("*") if p.is_file()] + [log]:
        data = path.read_bytes()
        for tag, value in SENTINELS.items():
            assert value.encode() not in data, f"{tag} reached {path}"
