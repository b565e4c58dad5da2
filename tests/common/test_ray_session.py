"""Which Ray the sweep scripts start or join."""

from __future__ import annotations

import os
import socket

import pytest

from triage_ray.common.ray_session import resolve_address, stale_pointer_address


def test_plain_run_starts_a_fresh_local_ray_even_if_a_head_was_started_before(monkeypatch):
    # "local" (not None): a bare ray.init() would follow a stale `ray_current_cluster` file.
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_address(None) == "local"


def test_a_ray_job_joins_its_cluster(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert resolve_address(None) == "10.0.0.5:6379"


@pytest.mark.parametrize("given", ["auto", "10.0.0.7:6379"])
def test_an_explicit_address_wins(monkeypatch, given):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert resolve_address(given) == given


def test_a_pointer_to_a_dead_head_is_reported(tmp_path):
    with socket.socket() as s:  # a port nothing listens on once the socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pointer = tmp_path / "ray_current_cluster"
    pointer.write_text(f"127.0.0.1:{port}\n")
    assert stale_pointer_address(pointer) == f"127.0.0.1:{port}"


def test_a_live_head_or_no_pointer_is_not_reported(tmp_path):
    assert stale_pointer_address(tmp_path / "missing") is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        pointer = tmp_path / "ray_current_cluster"
        pointer.write_text(f"127.0.0.1:{s.getsockname()[1]}")
        assert stale_pointer_address(pointer) is None


def test_train_settings_apply_unless_the_environment_sets_them(monkeypatch):
    from triage_ray.common.ray_session import TRAIN_ENV_DEFAULTS, train_env

    (key,) = TRAIN_ENV_DEFAULTS
    monkeypatch.delenv(key, raising=False)
    assert train_env() == TRAIN_ENV_DEFAULTS and os.environ[key] == TRAIN_ENV_DEFAULTS[key]
    monkeypatch.setenv(key, "3")  # a user's own setting wins
    assert train_env() == {key: "3"}
