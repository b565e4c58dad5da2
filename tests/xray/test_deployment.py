"""A run's deployment: a folder that holds none gets an error that says what to point at."""

from __future__ import annotations

import pytest

from triage_ray.xray.deployment import load_deployment


def test_a_folder_without_a_deployment_is_refused_by_name(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="not a finished X-ray run"):
        load_deployment(tmp_path)
