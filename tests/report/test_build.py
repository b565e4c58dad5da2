"""`write_reports` / `python -m triage_ray.report`: every report from one run directory."""

from __future__ import annotations

import shutil

import pytest
from pypdf import PdfReader

from triage_ray.report.__main__ import main
from triage_ray.report.build import ReportError, write_reports


@pytest.mark.ray
def test_all_reports_from_a_run_directory(generated_run, tune_experiment, tmp_path):
    run_dir = tmp_path / generated_run.name
    shutil.copytree(generated_run, run_dir)
    shutil.copytree(tune_experiment, run_dir / "tune")
    written = write_reports(run_dir, log=lambda _: None)
    assert set(written) == {"memo", "model_card", "dashboard"}
    assert len(PdfReader(written["memo"]).pages) <= 3
    assert written["dashboard"] == run_dir / "dashboard.html"
    assert all(p.is_file() for p in written.values())
    page = written["dashboard"].read_text()
    import json

    op = json.loads((run_dir / "metrics.json").read_text())["operating"]
    assert f"Operating frontier ({op['n_points']} operating points" in page
    assert page.count('class="recommended"') == (op["recommended"] in
                                                 [op["points"][i] for i in op["pareto"]])


def test_a_failing_report_does_not_stop_the_others(generated_run, tmp_path):
    run_dir = tmp_path / generated_run.name
    shutil.copytree(generated_run, run_dir)  # no tune/ folder: the dashboard must fail
    shutil.rmtree(run_dir / "tune", ignore_errors=True)
    with pytest.raises(ReportError, match="1 of 2 reports failed") as e:
        write_reports(run_dir, only=("model_card", "dashboard"), log=lambda _: None)
    assert "tune: Tune experiment directory not found" in str(e.value)
    assert (run_dir / "model_card.md").is_file()


def test_command_line_reports_a_bad_run_dir(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 1
    assert "nope: run directory not found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown reports"):
        write_reports(tmp_path, only=("poster",))
