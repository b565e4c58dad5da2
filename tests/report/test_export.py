"""`python -m triage_ray.report RUN --export-deidentified DIR`: a copy without identifiers."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from triage_ray.report.__main__ import main
from triage_ray.report.export import EXPORT_KEY_FILE, REDACTED, ExportLeak, export_deidentified


def test_the_export_keeps_the_results_and_drops_the_identities(real_data_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(real_data_run, run)
    (run / "review.html").write_text("<img src='data:image/png;base64,AAAA'>")  # pixels
    (run / "summary.md").write_text(f"Results: {run}/worklist.parquet\n")
    out = tmp_path / "share"
    assert main([str(run), "--export-deidentified", str(out)]) == 0
    raw, shared = pd.read_parquet(run / "worklist.parquet"), pd.read_parquet(out / "worklist.parquet")
    assert len(shared) == len(raw) and shared["bucket_name"].tolist() == raw["bucket_name"].tolist()
    assert not set(shared["study_id"]) & set(raw["study_id"])
    assert shared["study_id"].str.fullmatch(r"[0-9a-f]{20}").all() and shared["study_id"].is_unique
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pile"]["skipped"][0]["path"] == REDACTED  # "/data/pile/broken.png"
    assert metrics["provenance"] == json.loads((run / "metrics.json").read_text())["provenance"]
    assert not (out / "review.html").exists() and not (out / EXPORT_KEY_FILE).exists()
    assert (run / EXPORT_KEY_FILE).is_file()  # the key stays with the site
    assert (out / "summary.md").read_text() == "Results: <run directory>/worklist.parquet\n"
    # the same key links the same study to the same pseudonym on a second export
    again = export_deidentified(run, tmp_path / "again")
    assert pd.read_parquet(again / "worklist.parquet")["study_id"].tolist() == shared["study_id"].tolist()


def test_an_export_that_would_leak_is_refused_and_removed(real_data_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(real_data_run, run)
    sid = max(pd.read_parquet(run / "worklist.parquet")["study_id"], key=len)  # "pile1234"
    (run / "memo.md").write_text(f"# Memo\nsee study {sid}\n")
    with pytest.raises(ExportLeak, match="memo.md holds identifier"):
        export_deidentified(run, tmp_path / "share")
    assert not (tmp_path / "share").exists()
