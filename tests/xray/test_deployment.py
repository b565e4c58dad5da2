"""A run's deployment: a folder that holds none gets an error that says what to point at, from
the library and from `sweeps/score_pile.py` in a plain shell (before any Ray starts)."""

from __future__ import annotations

import subprocess

import pytest
from shell_runs import BIN, REPO, plain_shell_env

from triage_ray.xray.deployment import load_deployment


def test_a_folder_without_a_deployment_is_refused_by_name(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="not a finished X-ray run"):
        load_deployment(tmp_path)


@pytest.mark.parametrize("extra, says", [
    ([], "not a finished X-ray run"),
    (["--pile-source", "dicom"], "give --pile-root DIR too"),
])
def test_the_command_refuses_plainly_before_ray_starts(tmp_path, extra, says):
    res = subprocess.run([str(BIN / "python"), "sweeps/score_pile.py", "--run", str(tmp_path),
                          *extra], env=plain_shell_env(), cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode != 0 and says in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and "Started a local Ray" not in res.stderr + res.stdout
