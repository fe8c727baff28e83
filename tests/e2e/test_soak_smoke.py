"""A tiny soak run: a few connections for two hours with faults, compared with a fault-free run.

The full soak (``make soak``) is a script, not a test; this one proves that the script's
pipeline, fault plan and checks work together, and that the checks catch a broken ledger.
"""

from __future__ import annotations

import copy
import multiprocessing
from datetime import UTC, datetime

import pytest

from carbonmeter.store import period_from_item, period_item
from devtools.soak import RunResult, SoakOptions, check, render, run_soak, soak_hours
from devtools.soak.__main__ import main as soak_main
from devtools.soak.pair import reference_in_background

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


def test_the_checks_catch_a_missing_a_duplicated_and_a_changed_record_and_an_incomplete_hour(soak_run):
    soak, reference, _ = soak_run
    broken = copy.deepcopy(soak)
    usage_key = sorted(broken.ledger.usage)[0]
    del broken.ledger.usage[usage_key]
    # A copy of a record under another sort key: the same resource counted twice
    emission_key, emission = sorted(broken.ledger.emissions.items())[0]
    broken.ledger.emissions[(emission_key[0], emission_key[1] + "-copy")] = emission
    rollup = next(iter(broken.ledger.rollups.values()))
    rollup["energy_kwh"] *= 2
    # An hour whose status still names a scope no attempt stored
    status = next(iter(broken.ledger.statuses.values()))
    status["failed"] = {"eu-south-9#ec2": "ThrottlingException"}
    failed = {c.name for c in check(broken, reference, CONNECTION_IDS) if not c.passed}
    assert failed == {
        "soak: every hour's status complete",
        "usage: same keys and values as the reference",
        "emissions: same keys and values as the reference",
        "rollups: same keys and values as the reference",
        "totals (emission records)",
        "totals (roll-ups)",
        # the day holding the doubled roll-up no longer equals its parts
        "soak: every day and month equals its stored parts",
    }


def test_the_checks_catch_a_day_that_lost_an_hour(soak_run):
    # Given the soak's ledger with one stored day missing the figures of one of its hours
    soak, reference, _ = soak_run
    broken = copy.deepcopy(soak)
    day = next(item for key, item in sorted(broken.ledger.periods.items()) if "#day#" in key[1])
    period = period_from_item(day)
    first, *others = period.groups
    halved = first.energy_kwh.model_copy(update={"central": first.energy_kwh.central / 2})
    day.update(
        period_item(
            period.model_copy(
                update={
                    "hours_covered": period.hours_covered - 1,
                    "groups": (first.model_copy(update={"energy_kwh": halved}), *others),
                }
            )
        )
    )
    # Then exactly the periods' check fails: the day, and its month, which no longer adds up to its days
    failed = [c for c in check(broken, reference, CONNECTION_IDS) if not c.passed]
    assert [c.name for c in failed] == ["soak: every day and month equals its stored parts"]
    assert "2 differ" in failed[0].detail


def test_a_failing_reference_run_is_reported_with_its_cause_and_leaves_no_process():
    # Given options the reference run cannot satisfy: connections but no fleet to point them at
    impossible = SoakOptions(connections=1, hours=1, fleets=0, max_recovery_hours=0)
    hours = soak_hours(impossible, datetime.now(UTC))

    # When the reference runs in the background and its result is asked for
    with (
        reference_in_background(impossible, hours) as reference_result,
        pytest.raises(RuntimeError, match="the reference run failed") as failure,
    ):
        reference_result()

    # Then the soak learns why, instead of waiting forever, and no reference process is left running
    assert "ZeroDivisionError" in str(failure.value)
    assert [p for p in multiprocessing.active_children() if p.name == "soak-reference"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fleets", "9"], "--fleets must be between 1 and 4"),
        (["--fault-rate", "1.5"], "--fault-rate must be between 0 and 1"),
        (["--connections", "0"], "must be at least 1"),
    ],
)
def test_bad_options_stop_the_soak_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        soak_main(argv)

    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
