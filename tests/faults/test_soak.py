"""The soak run (see soak.py) ends with nothing lost, nothing duplicated and no hung task."""

from __future__ import annotations

import pytest

from .soak import run_soak


@pytest.mark.timeout(400)
@pytest.mark.parametrize("generation", ["v0", "v1"])
async def test_soak_under_random_faults(generation: str) -> None:
    report = await run_soak(conversations=30, seed=7, generation=generation, budget=240.0)
    print(report.summary())
    assert report.hung_tasks == 0
    assert report.faults_fired > 0
    assert report.retries > 0
    assert report.duplicate_ids == 0
    # Exactly one conversation per create call that returned an id — and none for the others.
    assert report.conversations_on_server == report.creates_returned
    assert report.creates_returned + len(report.create_errors) == report.creates_attempted
    # Every conversation that was created reached an outcome (faults are transient).
    assert sum(report.outcomes.values()) + len(report.wait_errors) == report.creates_returned
    assert report.wait_errors == []
