"""Tiny generated record sets shared by the intake tests (generated once per test run)."""

import pytest


@pytest.fixture(scope="package")
def records():
    from triage_ray.intake.generate import generate_records

    df, card = generate_records(1500, relatedness=0.5, seed=3)
    return df, card
