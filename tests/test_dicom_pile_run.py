"""A pile given as DICOM, end to end, the way a user runs it: generate a PACS-style export with the
project's CLI, then `python sweeps/xray.py --smoke --pile-source dicom --pile-root DIR` from a plain
shell (the `ray job submit` to two nodes, killed mid-sweep and resumed: the `dicom_job` fixture in
conftest.py). Ingest, gate, scoring, worklist, memo and the review page (rendered in headless
Chromium)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

PROBES = {"lateral view": "view LATERAL", "child": "age 7", "non-chest body part": "body part HAND",
          "other modality": "modality CT", "blank image": "blank image"}


@pytest.fixture(scope="module")
def dicom_run(dicom_job) -> tuple[Path, Path, pd.DataFrame]:
    r = dicom_job
    return r.run_dir, r.export, r.manifest


@pytest.mark.slow
def test_a_dicom_pile_runs_end_to_end(dicom_run):
    run_dir, export, manifest = dicom_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    pile = metrics["pile"]
    files = [p for p in export.rglob("*") if p.is_file()]
    assert pile["layout"] == "dicom" and pile["n_studies"] == len(files)
    assert pile["n_scored"] + pile["n_skipped"] == len(files)  # count in = count out
    skipped = {Path(s["path"]).name: s["reason"] for s in pile["skipped"]}
    assert "no pixel data" in skipped["no-pixels.dcm"]
    assert "unsupported transfer syntax" in skipped["video.dcm"]
    assert "non-image SOP class" in skipped["report.dcm"]
    wl = pd.read_parquet(run_dir / "worklist.parquet")
    assert wl["study_id"].is_unique and len(wl) == pile["n_scored"]
    from triage_ray.data.dicom import read_header

    uid_of = {str(Path(f).resolve()): read_header(f)["study_id"]
              for f, e in zip(manifest["file"], manifest["expected"], strict=True) if e in PROBES}
    kind_of = {uid_of[str(Path(f).resolve())]: e for f, e in
               zip(manifest["file"], manifest["expected"], strict=True) if e in PROBES}
    probes = wl[wl["study_id"].isin(kind_of)]
    assert len(probes) == len(PROBES)
    for row in probes.itertuples():
        assert row.bucket_name == "not_triaged"
        assert PROBES[kind_of[row.study_id]] in row.gate_reason
    gate = pile["gate"]
    assert gate["n_not_triaged"] == int((wl["bucket_name"] == "not_triaged").sum()) >= len(PROBES)
    assert pile["bucket_counts"]["not_triaged"] == gate["n_not_triaged"]
    assert (wl.loc[wl["gate_reason"] != "", "bucket_name"] == "not_triaged").all()
    check = gate["check"]
    assert check["false_flag_test"]["n"] > 0 and set(check["probes"]) >= {"blank", "noise"}
    memo = (run_dir / "memo.md").read_text()
    assert f"{gate['n_not_triaged']} (" in memo and "never cleared" in memo
    assert "Enforced before scoring" in memo


@pytest.mark.slow
def test_the_review_page_renders_in_chromium(dicom_run, chromium, tmp_path):
    run_dir, _, _ = dicom_run
    page = run_dir / "review.html"
    text = page.read_text()
    assert "GENERATED DATA" in text and "Not triaged:" in text
    assert text.count("<img") >= 10 and "http" not in text.replace("http-equiv", "")
    assert text.count("alt='saliency'") >= 5  # Grad-CAM overlays beside the images
    shot = run_dir / "review.png"
    profile = tmp_path / "profile"
    res = subprocess.run([*chromium, f"--user-data-dir={profile}", "--window-size=1400,2400",
                          f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                         timeout=90, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    dom = subprocess.run([*chromium, f"--user-data-dir={profile}-dom", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=90, check=False)
    assert dom.returncode == 0
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console == [] and "ERR_" not in dom.stderr, console
    assert "Not triaged: outside the intended use" in dom.stdout
