"""The hostile soak (see hostile_soak.py) on both generations: at most one conversation per
create and exactly one for every create that returned an id, every wait within its timeout,
only library errors, memory bounded."""

from __future__ import annotations

import pytest

from .hostile_soak import WAIT_TIMEOUT, run_hostile_soak

NEW_FAULTS = {"trickle", "corrupt_gzip", "oversize", "gzip_bomb", "slow"}


@pytest.mark.timeout(400)
@pytest.mark.parametrize("generation", ["v0", "v1"])
async def test_hostile_soak(generation: str) -> None:
    report = await run_hostile_soak(generation=generation, conversations=24, seed=11)
    print(report.summary())
    assert report.hung_tasks == 0
    assert set(report.faults_fired) >= NEW_FAULTS, report.faults_fired
    assert report.foreign_errors == []
    assert report.most_per_create <= 1
    assert report.returned_missing_on_server == 0
    assert report.creates_returned <= report.conversations_on_server <= report.creates_attempted
    # A create that gave up says why and that the conversation may exist.
    assert all("may have been created" in error for error in report.create_errors), report.create_errors
    assert report.longest_wait <= WAIT_TIMEOUT + 5.0
    assert sum(report.outcomes.values()) + len(report.wait_errors) == report.creates_returned
    # The cap is 32 MiB per answer; the fake's own work runs in this process too.
    assert report.peak_rss_growth_mib < 300, report.summary()
