from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from carbonmeter.models import CollectJob, Connection
from carbonmeter.scheduling import (
    BackfillRequest,
    SchedulingError,
    backfill_jobs,
    scheduled_jobs,
    summarise,
)
from carbonmeter.store import UnknownConnectionError


def _connection(connection_id: str, enabled: bool = True) -> Connection:
    return Connection(
        connection_id=connection_id,
        role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
        external_id="ext-123",
        regions=("us-east-1",),
        enabled=enabled,
    )


class FakeConnections:
    """Stands in for ConnectionStore: the scheduler only looks connections up by id."""

    def __init__(self, *connections: Connection) -> None:
        self._by_id = {c.connection_id: c for c in connections}

    def get(self, connection_id: str) -> Connection:
        if connection_id not in self._by_id:
            raise UnknownConnectionError(connection_id)
        return self._by_id[connection_id]


NOW = datetime(2026, 11, 23, 14, 7, tzinfo=UTC)


def test_scheduled_run_collects_the_previous_whole_hour_of_enabled_connections():
    # Given two enabled connections and a disabled one
    connections = [_connection("a"), _connection("b"), _connection("c", enabled=False)]
    # When the hourly rule fires at 14:07
    jobs = scheduled_jobs(connections, NOW)
    # Then 13:00-14:00 is queued once for each enabled connection
    assert jobs == [
        CollectJob(connection_id="a", hour=datetime(2026, 11, 23, 13, tzinfo=UTC)),
        CollectJob(connection_id="b", hour=datetime(2026, 11, 23, 13, tzinfo=UTC)),
    ]


def test_backfill_fans_out_one_job_per_connection_per_hour():
    store = FakeConnections(_connection("a"), _connection("b"))
    request = BackfillRequest.model_validate(
        {"connection_ids": ["a", "b"], "start": "2026-11-22T22:00:00Z", "end": "2026-11-23T01:00:00Z"}
    )
    jobs = backfill_jobs(store, request, NOW, max_hours=744)  # type: ignore[arg-type]
    assert len(jobs) == 6
    assert {job.hour.hour for job in jobs} == {22, 23, 0}
    summary = summarise(jobs)
    assert (summary.connections, summary.first_hour, summary.last_hour) == (
        2,
        datetime(2026, 11, 22, 22, tzinfo=UTC),
        datetime(2026, 11, 23, 1, tzinfo=UTC),
    )


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
        backfill_jobs(store, BackfillRequest(connection_ids=["a", "ghost"], **window), NOW, 744)  # type: ignore[arg-type]
    with pytest.raises(SchedulingError, match="disabled connections: off"):
        backfill_jobs(store, BackfillRequest(connection_ids=["off"], **window), NOW, 744)  # type: ignore[arg-type]


def test_backfill_refuses_future_hours_and_oversized_ranges():
    store = FakeConnections(_connection("a"))
    future = BackfillRequest.model_validate(
        {"connection_ids": ["a"], "start": "2026-11-23T13:00:00Z", "end": "2026-11-23T15:00:00Z"}
    )
    with pytest.raises(SchedulingError, match="future"):
        backfill_jobs(store, future, NOW, 744)  # type: ignore[arg-type]
    month = BackfillRequest.model_validate(
        {"connection_ids": ["a"], "start": "2026-10-01T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    )
    with pytest.raises(SchedulingError, match="at most 744"):
        backfill_jobs(store, month, NOW, 744)  # type: ignore[arg-type]
