from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from carbonmeter.models import BackfillChunk, CollectJob, Connection, HourStatus
from carbonmeter.scheduling import (
    BackfillRequest,
    SchedulingError,
    backfill_messages,
    due_calculations,
    due_hours,
    hourly_reference,
    plan_hourly,
    scheduled_jobs,
    stale_connections,
    summarise,
)
from carbonmeter.settings import Settings
from carbonmeter.store import UnknownConnectionError

# Past the settling delay (10 minutes) of the hour that ended at 14:00.
NOW = datetime(2026, 11, 23, 14, 17, tzinfo=UTC)
H = timedelta(hours=1)
PREVIOUS = datetime(2026, 11, 23, 13, tzinfo=UTC)
SETTINGS = Settings(lookback_hours=72, retry_incomplete_after_hours=3, stale_after_hours=6, backfill_chunk_hours=168)


def _connection(connection_id: str, enabled: bool = True, **fields) -> Connection:
    return Connection(
        connection_id=connection_id,
        role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
        external_id="ext-123",
        regions=("us-east-1",),
        enabled=enabled,
        **fields,
    )


def _status(hour: datetime, *, failed: bool = False, updated: datetime = NOW) -> HourStatus:
    return HourStatus(
        connection_id="a",
        hour=hour,
        succeeded=("us-east-1/ec2",),
        failed={"us-east-1/s3": "Throttling"} if failed else {},
        updated_at=updated,
    )


class FakeConnections:
    """Stands in for ConnectionStore: the scheduler only looks connections' schedules up by id."""

    def __init__(self, *connections: Connection) -> None:
        self._by_id = {c.connection_id: c for c in connections}

    def schedule(self, connection_id: str) -> Connection:
        if connection_id not in self._by_id:
            raise UnknownConnectionError(connection_id)
        return self._by_id[connection_id]


def test_a_connection_registered_long_ago_with_every_hour_collected_gets_only_the_previous_hour():
    connection = _connection("a", created_at=NOW - 30 * 24 * H)
    statuses = {PREVIOUS - n * H: _status(PREVIOUS - n * H) for n in range(1, 72)}
    assert due_hours(connection, statuses, NOW, SETTINGS) == [PREVIOUS]


def test_hours_missed_during_an_outage_are_queued_again_within_the_look_back():
    # Given a connection whose collection stopped 5 hours ago (the pipeline or its role was down)
    connection = _connection("a", created_at=NOW - 30 * 24 * H)
    statuses = {PREVIOUS - n * H: _status(PREVIOUS - n * H) for n in range(5, 72)}
    # When the hourly run comes
    due = due_hours(connection, statuses, NOW, SETTINGS)
    # Then the five missing hours are queued, oldest first, and nothing older
    assert due == [PREVIOUS - n * H for n in range(4, -1, -1)]


def test_the_look_back_bounds_how_far_an_outage_is_caught_up():
    connection = _connection("a", created_at=NOW - 30 * 24 * H)
    due = due_hours(connection, {}, NOW, SETTINGS)
    assert len(due) == 72
    assert due[0] == PREVIOUS - 71 * H


def test_an_incomplete_hour_is_queued_again_only_once_its_own_retries_are_over():
    connection = _connection("a", created_at=NOW - 30 * 24 * H)
    statuses = {PREVIOUS - n * H: _status(PREVIOUS - n * H) for n in range(1, 72)}
    statuses[PREVIOUS - 2 * H] = _status(PREVIOUS - 2 * H, failed=True, updated=NOW - 1 * H)
    statuses[PREVIOUS - 9 * H] = _status(PREVIOUS - 9 * H, failed=True, updated=NOW - 4 * H)
    assert due_hours(connection, statuses, NOW, SETTINGS) == [PREVIOUS - 9 * H, PREVIOUS]


def test_a_new_connection_is_collected_from_the_hour_it_was_registered():
    connection = _connection("a", created_at=NOW - 2 * H)
    assert due_hours(connection, {}, NOW, SETTINGS) == [PREVIOUS - H, PREVIOUS]


def test_scheduled_run_covers_enabled_connections_only():
    connections = [_connection("a"), _connection("b"), _connection("c", enabled=False)]
    jobs = scheduled_jobs(connections, lambda connection, start, end: {}, NOW, SETTINGS)
    assert jobs == [CollectJob(connection_id="a", hour=PREVIOUS), CollectJob(connection_id="b", hour=PREVIOUS)]


def test_stale_connections_are_those_without_a_recent_success():
    connections = [
        _connection("fresh", last_success_at=NOW - 2 * H),
        _connection("stale", last_success_at=NOW - 7 * H),
        _connection("never", created_at=NOW - 8 * H),
        _connection("new", created_at=NOW - 1 * H),
        _connection("off", enabled=False, last_success_at=NOW - 70 * H),
    ]
    assert stale_connections(connections, NOW, SETTINGS) == ["stale", "never"]


def test_a_short_backfill_fans_out_one_job_per_connection_per_hour():
    store = FakeConnections(_connection("a"), _connection("b"))
    request = BackfillRequest.model_validate(
        {"connection_ids": ["a", "b"], "start": "2026-11-22T22:00:00Z", "end": "2026-11-23T01:00:00Z"}
    )
    messages = backfill_messages(store, request, NOW, SETTINGS)  # type: ignore[arg-type]
    assert all(isinstance(m, CollectJob) for m in messages)
    assert len(messages) == 6
    summary = summarise(messages)
    assert (summary.jobs, summary.connections, summary.first_hour, summary.last_hour) == (
        6,
        2,
        datetime(2026, 11, 22, 22, tzinfo=UTC),
        datetime(2026, 11, 23, 1, tzinfo=UTC),
    )


def test_a_months_long_backfill_travels_as_bounded_chunks():
    # Given a backfill of one connection over 90 days
    store = FakeConnections(_connection("a"))
    request = BackfillRequest.model_validate(
        {"connection_ids": ["a"], "start": "2026-08-25T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    )
    # When the scheduler plans it
    messages = backfill_messages(store, request, NOW, SETTINGS)  # type: ignore[arg-type]
    # Then it queues 13 chunks of at most a week, which cover the range exactly once
    assert all(isinstance(m, BackfillChunk) for m in messages)
    assert len(messages) == 13
    hours = [hour for m in messages for hour in m.hours()]  # type: ignore[union-attr]
    assert len(hours) == len(set(hours)) == 90 * 24
    assert max(len(m.hours()) for m in messages) == 168  # type: ignore[union-attr]
    assert summarise(messages).jobs == 90 * 24


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"connection_ids": ["a"], "start": "2026-11-23T10:30:00Z", "end": "2026-11-23T12:00:00Z"}, "whole hour"),
        ({"connection_ids": ["a"], "start": "2026-11-23T10:00:00", "end": "2026-11-23T12:00:00Z"}, "timezone"),
        ({"connection_ids": ["a"], "start": "2026-11-23T12:00:00Z", "end": "2026-11-23T10:00:00Z"}, "after start"),
        ({"connection_ids": [], "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T12:00:00Z"}, "at least 1"),
        ({"connection_ids": ["a;drop"], "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T12:00:00Z"}, "connection"),
        ({"connection_ids": ["a"], "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T12:00:00Z", "x": 1}, "Extra"),
    ],
)
def test_malformed_backfill_events_are_rejected_with_the_reason(event, message):
    with pytest.raises(ValidationError, match=message):
        BackfillRequest.model_validate(event)


def test_backfill_refuses_unknown_and_disabled_connections_naming_them():
    store = FakeConnections(_connection("a"), _connection("off", enabled=False))
    window = {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T12:00:00Z"}
    with pytest.raises(SchedulingError, match="unknown connection ids: ghost"):
        backfill_messages(store, BackfillRequest(connection_ids=["a", "ghost"], **window), NOW, SETTINGS)  # type: ignore[arg-type]
    with pytest.raises(SchedulingError, match="disabled connections: off"):
        backfill_messages(store, BackfillRequest(connection_ids=["off"], **window), NOW, SETTINGS)  # type: ignore[arg-type]


def test_backfill_refuses_future_hours_and_hours_cloudwatch_no_longer_keeps():
    store = FakeConnections(_connection("a"))
    future = BackfillRequest.model_validate(
        {"connection_ids": ["a"], "start": "2026-11-23T13:00:00Z", "end": "2026-11-23T15:00:00Z"}
    )
    with pytest.raises(SchedulingError, match="future"):
        backfill_messages(store, future, NOW, SETTINGS)  # type: ignore[arg-type]
    ancient = BackfillRequest.model_validate(
        {"connection_ids": ["a"], "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}
    )
    with pytest.raises(SchedulingError, match="455 days"):
        backfill_messages(store, ancient, NOW, SETTINGS)  # type: ignore[arg-type]


def test_an_hour_is_due_only_once_it_has_settled():
    # Given a connection with every earlier hour collected
    connection = _connection("a", created_at=NOW - 30 * 24 * H)
    statuses = {PREVIOUS - n * H: _status(PREVIOUS - n * H) for n in range(1, 80)}
    # When the rule fires five minutes after 13:00-14:00 ended: Then that hour waits for CloudWatch's late data
    assert due_hours(connection, statuses, PREVIOUS + H + timedelta(minutes=5), SETTINGS) == []
    # And ten minutes after, it is due
    assert due_hours(connection, statuses, PREVIOUS + H + timedelta(minutes=10), SETTINGS) == [PREVIOUS]


def test_the_hourly_run_refuses_an_event_from_the_future_and_runs_on_its_clock_otherwise():
    with pytest.raises(SchedulingError, match="ahead of the clock"):
        hourly_reference(NOW + timedelta(hours=1), NOW)
    # EventBridge stamps the event just before the invocation, and may deliver a retry hours late
    assert hourly_reference(NOW + timedelta(seconds=30), NOW) == NOW
    assert hourly_reference(NOW - timedelta(hours=20), NOW) == NOW


def _calculated(hour: datetime, *, updated: datetime, calculated: datetime | None) -> HourStatus:
    return _status(hour, updated=updated).model_copy(update={"calculated_at": calculated})


def test_an_hour_whose_calculation_was_lost_is_queued_again_once_its_retries_are_over():
    old = NOW - 4 * H
    statuses = {
        # usage stored, emissions never stored: due
        PREVIOUS - 10 * H: _calculated(PREVIOUS - 10 * H, updated=old, calculated=None),
        # calculated before a later collection replaced the usage: due
        PREVIOUS - 9 * H: _calculated(PREVIOUS - 9 * H, updated=old, calculated=old - H),
        # calculated after its collection: done
        PREVIOUS - 8 * H: _calculated(PREVIOUS - 8 * H, updated=old, calculated=old + H),
        # collected an hour ago: its calculate job may still be retrying
        PREVIOUS - 7 * H: _calculated(PREVIOUS - 7 * H, updated=NOW - H, calculated=None),
        # about to be collected again, which queues its calculation then
        PREVIOUS - 6 * H: _calculated(PREVIOUS - 6 * H, updated=old, calculated=None),
    }
    due = due_calculations(statuses, [PREVIOUS - 6 * H], NOW, SETTINGS)
    assert due == [PREVIOUS - 10 * H, PREVIOUS - 9 * H]


def test_the_hourly_plan_queues_lost_calculations_of_enabled_connections_only():
    lost = {PREVIOUS - 5 * H: _calculated(PREVIOUS - 5 * H, updated=NOW - 4 * H, calculated=None)}
    connections = [_connection("a", created_at=PREVIOUS - 5 * H), _connection("off", enabled=False)]
    plan = plan_hourly(connections, lambda connection, start, end: lost, NOW, SETTINGS)
    assert [(job.connection_id, job.hour) for job in plan.calculate] == [("a", PREVIOUS - 5 * H)]
    assert all(job.connection_id == "a" for job in plan.collect)
