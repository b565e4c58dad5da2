"""Torch threads per training process when the config leaves them open: the machine's cores
shared by the trials that may run on it at once."""

from __future__ import annotations

import os

from triage_ray.train.threads import alive_cpu_nodes, training_threads

CORES = os.cpu_count() or 1


def test_an_explicit_thread_count_wins():
    assert training_threads(3, concurrent=8, nodes=1) == 3


def test_one_machine_shares_its_cores_among_concurrent_trials():
    assert training_threads(None, concurrent=1, nodes=1) == CORES
    assert training_threads(None, concurrent=2, nodes=1) == max(1, CORES // 2)
    assert training_threads(None, concurrent=10 * CORES, nodes=1) == 1  # never below one


def test_trials_spread_over_nodes_keep_their_node():
    assert training_threads(None, concurrent=2, nodes=2) == CORES
    assert training_threads(None, concurrent=3, nodes=2) == max(1, CORES // 2)


def test_a_local_ray_is_one_node(ray_local):
    assert alive_cpu_nodes() == 1
    assert training_threads(None, concurrent=2) == max(1, CORES // 2)
