"""Package-level promises: import stays light, docs define every metric and policy once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim import METRICS, POLICIES

ROOT = Path(__file__).parents[2]


def test_import_pulls_in_neither_torch_nor_ray_nor_simpy():
    code = ("import sys, sim; bad = {'torch', 'ray', 'simpy', 'pandas'} & set(sys.modules); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_public_interface_names():
    for name in ("Bucket", "Staffing", "Worklist", "SimResult", "simulate", "POLICIES",
                 "sensitivity_table"):
        assert hasattr(sim, name), name


@pytest.mark.parametrize("name", sorted(METRICS) + sorted(POLICIES))
def test_docs_define_every_metric_and_policy(name: str):
    doc = (ROOT / "docs" / "simulation.md").read_text()
    assert f"`{name}`" in doc, f"docs/simulation.md does not define {name}"
