"""Reading run artifacts and formatting numbers: clear errors, never a bare 'nan'."""

from __future__ import annotations

import json
import math

import pytest

from triage_ray.report.fmt import ci, interval, num, pct
from triage_ray.report.run import RunArtifacts, RunFieldError


def _run(tmp_path, metrics: str = '{"a": {"b": {"c": 1.5}}}') -> RunArtifacts:
    (tmp_path / "metrics.json").write_text(metrics)
    (tmp_path / "config.json").write_text(json.dumps({"seed": 3}))
    return RunArtifacts.load(tmp_path)


def test_dotted_lookup_and_its_error(tmp_path):
    run = _run(tmp_path)
    assert run.get("a.b.c") == 1.5 and run.cfg("seed") == 3
    assert run.get("a.x", None) is None
    with pytest.raises(RunFieldError) as e:
        run.get("a.b.d")
    msg = str(e.value)
    assert "metrics.json" in msg and "'a.b.d'" in msg and "'d' not under a.b" in msg
    assert "['c']" in msg


def test_missing_and_broken_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="run directory not found"):
        RunArtifacts.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"metrics\.json: not found"):
        RunArtifacts.load(tmp_path)
    with pytest.raises(ValueError, match=r"metrics\.json: not valid JSON \(line 1"):
        _run(tmp_path, "{oops")
    with pytest.raises(ValueError, match="expected a JSON object"):
        _run(tmp_path, "[1, 2]")


def test_formatting():
    assert ci({"mean": 1.2345, "ci_low": 1.1, "ci_high": 1.4}) == "1.23 (95% CI 1.10-1.40)"
    assert ci({"value": 0.0123, "ci_low": 0.01, "ci_high": 0.02}, 1, scale=1000) == (
        "12.3 (95% CI 10.0-20.0)")
    assert ci({"mean": None, "ci_low": None, "ci_high": None}) == "n/a"
    assert ci({"mean": 2.0, "ci_low": None, "ci_high": None}) == "2.00"
    assert num(math.nan) == "n/a" and num(30000, 0) == "30,000" and num(True) == "n/a"
    assert pct(0.1234) == "12.3%" and pct(None) == "n/a"
    assert interval({"value": 1, "ci_low": 0.5, "ci_high": 1.5}, 1) == "0.5-1.5"
