"""cluster.yaml as `ray up` reads it: Ray's own schema, what is synced to the nodes, which Ray the
start commands run, and where the job API listens."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def cluster() -> dict:
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


def test_ray_accepts_the_config():
    """The launcher's own preparation and JSON-schema check (`ray up` runs both first)."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(cluster()))


def test_the_laptops_virtualenv_data_and_runs_are_not_synced_but_the_package_is():
    config = cluster()
    assert "." in config["file_mounts"].values()  # the checkout is what is synced
    excluded = config["rsync_exclude"]
    assert {"/.venv", "/data", "/reports"} <= set(excluded)
    # anchored at the synced folder's root (rsync's leading "/"): triage_ray/data is the package
    assert all(p.startswith("/") for p in excluded), excluded
    assert (REPO / "triage_ray" / "data" / "__init__.py").is_file()


def test_every_ray_command_runs_the_virtualenvs_ray():
    config = cluster()
    venv_bin = next(iter(config["file_mounts"])) + "/.venv/bin"
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        for command in config[key]:
            if re.search(r"\bray (start|stop)\b", command):
                assert command.startswith(f"export PATH={venv_bin}:$PATH && "), command


def test_the_job_api_listens_on_the_heads_localhost_only():
    (head_start,) = [c for c in cluster()["head_start_ray_commands"] if "ray start" in c]
    assert "--dashboard-host=127.0.0.1" in head_start
    assert "0.0.0.0" not in (REPO / "cluster.yaml").read_text()
