"""A tiny soak run: a few connections for two hours with faults, compared with a fault-free run.

The full soak (``make soak``) is a script, not a test; this one proves that the script's
pipeline, fault plan and checks work together, and that the checks catch a broken ledger.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from carbonmeter.local.soak import RunResult, SoakOptions, check, render, run_soak

OPTIONS = SoakOptions(
    connections=3,
    hours=2,
    fault_rate=0.1,
    seed=3,
    fleets=1,
    max_recovery_hours=2,
    # The watermark re-queues an incomplete hour one hour later, so one recovery hour is enough.
    retry_after_hours=1,
)
CONNECTION_IDS = [f"soak-{index:04d}" for index in range(OPTIONS.connections)]


@pytest.fixture(scope="module")
def soak_run() -> tuple[RunResult, RunResult, list]:
    return run_soak(OPTIONS, datetime.now(UTC))


def test_a_small_soak_with_faults_stores_every_connection_hour_once_with_the_reference_totals(soak_run):
    soak, reference, checks = soak_run
    # Then every check passes
    assert [c for c in checks if not c.passed] == []
    # And faults really happened: the region outage outlasted botocore's retries, so messages were
    # redelivered, and the watermark needed at least one fault-free hour to complete the faulty ones
    assert soak.faults.total() > 0
    assert any(key.endswith(":region-outage") for key in soak.faults)
    assert soak.counts["collector messages redelivered"] > 0
    assert len(soak.hours) > OPTIONS.hours
    # And the ledger is not empty: every connection-hour holds usage, emission and roll-up items
    assert len(soak.ledger.usage) == len(reference.ledger.usage) > len(CONNECTION_IDS) * len(soak.hours)
    assert soak.ledger.totals()["energy_kwh"] > 0
    # And the report shows the figures and the verdicts
    text = render(OPTIONS, soak, reference, checks)
    assert "region outage" in text
    assert "FAIL" not in text


def test_the_checks_catch_a_missing_a_duplicated_and_a_changed_record(soak_run):
    soak, reference, _ = soak_run
    broken = copy.deepcopy(soak)
    usage_key = sorted(broken.ledger.usage)[0]
    del broken.ledger.usage[usage_key]
    # A copy of a record under another sort key: the same resource counted twice
    emission_key, emission = sorted(broken.ledger.emissions.items())[0]
    broken.ledger.emissions[(emission_key[0], emission_key[1] + "-copy")] = emission
    rollup = next(iter(broken.ledger.rollups.values()))
    rollup["energy_kwh"] *= 2
    failed = {c.name for c in check(broken, reference, CONNECTION_IDS) if not c.passed}
    assert failed == {
        "usage: same keys and values as the reference",
        "emissions: same keys and values as the reference",
        "rollups: same keys and values as the reference",
        "totals (emission records)",
        "totals (roll-ups)",
    }
