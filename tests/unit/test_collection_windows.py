"""Collection windows: UTC-aligned windows of 1, 3, 6, 12 or 24 hours, queued once they have settled whole."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from carbonmeter import cloudwatch
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.collection_windows import WINDOW_HOURS, by_window, check_window_hours, window_start
from carbonmeter.models import BackfillChunk, CollectJob, Connection, ConnectionSchedule, HourStatus
from carbonmeter.monitoring import MonitoringCost, monthly_usd, prices
from carbonmeter.scheduling import (
    BackfillRequest,
    backfill_messages,
    lookback_hours,
    missing_hours,
    plan_hourly,
    stale_connections,
    summarise,
)
from carbonmeter.settings import ConfigurationError, Settings

H = timedelta(hours=1)
DAY = datetime(2026, 11, 23, tzinfo=UTC)
SETTINGS = Settings(lookback_hours=72, retry_incomplete_after_hours=3, stale_after_hours=6, backfill_chunk_hours=168)


def _schedule(window_hours: int | None = None, **fields) -> ConnectionSchedule:
    return ConnectionSchedule(connection_id="a", created_at=DAY - 30 * 24 * H, window_hours=window_hours, **fields)


def _complete(hour: datetime) -> HourStatus:
    return HourStatus(connection_id="a", hour=hour, succeeded=("us-east-1/ec2",), updated_at=hour + 2 * H)


def _collected_until(end: datetime) -> dict[datetime, HourStatus]:
    hours = [end - n * H for n in range(1, 24 * 5)]
    return {hour: _complete(hour) for hour in hours}


@pytest.mark.parametrize("hours", WINDOW_HOURS)
def test_windows_are_aligned_in_utc_and_cover_the_day_without_overlap(hours: int):
    starts = {window_start(DAY + n * H, hours) for n in range(24)}
    assert sorted(starts) == [DAY + n * hours * H for n in range(24 // hours)]
    assert window_start(DAY + 23 * H, hours) + hours * H == DAY + 24 * H


def test_a_6_hour_window_holds_the_hours_00_to_06():
    assert by_window([DAY + 7 * H, DAY + 5 * H, DAY + 6 * H], 6) == {
        DAY: [DAY + 5 * H],
        DAY + 6 * H: [DAY + 6 * H, DAY + 7 * H],
    }


@pytest.mark.parametrize("value", [0, 2, 5, 8, 48])
def test_other_lengths_are_refused_naming_the_allowed_ones(value: int):
    with pytest.raises(ValueError, match=r"1, 3, 6, 12 or 24 hours, not") as refused:
        check_window_hours(value)
    assert "\n" not in str(refused.value)
    with pytest.raises(ValidationError):
        Connection(
            connection_id="a",
            role_arn="arn:aws:iam::123456789012:role/R",
            external_id="xx",
            regions=("us-east-1",),
            window_hours=value,
        )


def test_the_deployments_window_is_read_from_the_environment_and_checked():
    assert Settings.from_env({}).collection_window_hours == 1
    assert Settings.from_env({"CARBONMETER_COLLECTION_WINDOW_HOURS": "6"}).collection_window_hours == 6
    with pytest.raises(ConfigurationError, match="1, 3, 6, 12 or 24"):
        Settings.from_env({"CARBONMETER_COLLECTION_WINDOW_HOURS": "4"})


def test_a_24_hour_connection_is_queued_the_whole_day_once_its_last_hour_has_settled():
    # Given a day-windowed connection collected until the start of the 23rd
    connection = _schedule(24)
    statuses = _collected_until(DAY)
    # When the hourly run comes at 23:17 (the day's last hour has not ended) and at 00:17 the next day
    before = plan_hourly([connection], lambda *_: statuses, DAY + 23 * H + timedelta(minutes=17), SETTINGS)
    after = plan_hourly([connection], lambda *_: statuses, DAY + 24 * H + timedelta(minutes=17), SETTINGS)
    # Then nothing is queued before, and one job of the 24 hours after
    assert before.collect == []
    assert after.collect == [CollectJob(connection_id="a", hour=DAY, hour_count=24)]


def test_a_connection_without_a_window_of_its_own_uses_the_deployments():
    statuses = _collected_until(DAY)
    now = DAY + 12 * H + timedelta(minutes=17)
    plan = plan_hourly(
        [_schedule()], lambda *_: statuses, now, SETTINGS.model_copy(update={"collection_window_hours": 6})
    )
    assert plan.collect == [
        CollectJob(connection_id="a", hour=DAY, hour_count=6),
        CollectJob(connection_id="a", hour=DAY + 6 * H, hour_count=6),
    ]
    # Its own window wins over the deployment's
    plan = plan_hourly(
        [_schedule(12)], lambda *_: statuses, now, SETTINGS.model_copy(update={"collection_window_hours": 6})
    )
    assert plan.collect == [CollectJob(connection_id="a", hour=DAY, hour_count=12)]


def test_an_incomplete_hour_of_a_window_is_retried_alone_within_its_window():
    # Given a 6-hour connection whose window 06-12 stored everything but 09:00
    statuses = _collected_until(DAY + 12 * H)
    statuses[DAY + 9 * H] = HourStatus(
        connection_id="a", hour=DAY + 9 * H, failed={"us-east-1/ec2": "Throttling"}, updated_at=DAY + 12 * H
    )
    # When the hourly run comes once its own retries are over
    plan = plan_hourly([_schedule(6)], lambda *_: statuses, DAY + 16 * H + timedelta(minutes=17), SETTINGS)
    # Then that hour is queued, in one job
    assert plan.collect == [CollectJob(connection_id="a", hour=DAY + 9 * H, hour_count=1)]


@pytest.mark.parametrize("hours", WINDOW_HOURS)
def test_a_healthy_windowed_connection_misses_no_hour_and_is_not_stale(hours: int):
    # Given a connection collected up to its latest settled window
    now = DAY + 23 * H + timedelta(minutes=17)
    connection = _schedule(hours, last_success_at=window_start(now, hours) - timedelta(minutes=50))
    settled = lookback_hours(connection, now, SETTINGS)
    statuses = {hour: _complete(hour) for hour in settled}
    # Then its health shows no missing hour, whatever its window, and the stale alarm stays quiet
    assert missing_hours(connection, statuses, now, SETTINGS) == []
    assert settled[-1] + H == window_start(now - timedelta(minutes=SETTINGS.settle_minutes), hours)
    assert stale_connections([connection], now, SETTINGS) == []


class _Store:
    def __init__(self, schedule: ConnectionSchedule) -> None:
        self._schedule = schedule

    def schedule(self, connection_id: str) -> ConnectionSchedule:
        return self._schedule


def test_a_backfill_of_a_windowed_connection_queues_whole_windows():
    request = BackfillRequest(connection_ids=["a"], start=DAY, end=DAY + 48 * H)
    messages = backfill_messages(_Store(_schedule(24)), request, DAY + 72 * H, SETTINGS)  # type: ignore[arg-type]
    assert messages == [CollectJob(connection_id="a", hour=DAY + n * 24 * H, hour_count=24) for n in range(2)]
    assert summarise(messages).jobs == 48


def test_a_long_backfill_is_chunked_between_windows():
    # Given a backfill starting mid-window, longer than a chunk
    request = BackfillRequest(connection_ids=["a"], start=DAY + 5 * H, end=DAY + 24 * 10 * H)
    messages = backfill_messages(_Store(_schedule(24)), request, DAY + 24 * 12 * H, SETTINGS)  # type: ignore[arg-type]
    # Then every chunk starts and ends on a window's edge (but the request's own), none longer than allowed
    assert all(isinstance(m, BackfillChunk) and m.window_hours == 24 for m in messages)
    assert [m.start for m in messages] == [DAY + 5 * H, DAY + 24 * 7 * H]
    assert all(len(m.hours()) <= SETTINGS.backfill_chunk_hours for m in messages)
    assert summarise(messages).jobs == 24 * 10 - 5


def test_the_monthly_monitoring_cost_is_metrics_a_collection_times_collections_a_month():
    price = prices().usd_per_metric
    assert monthly_usd(1000, 1) == pytest.approx(1000 * 730 * price)
    assert monthly_usd(1000, 24) == pytest.approx(monthly_usd(1000, 1) / 24)
    assert MonitoringCost(6, None).usd_per_month is None
    assert "customer's account" in MonitoringCost(6, 1000).line()


def _hourly_requests(series: int, hours: list[datetime]) -> list[MetricRequest]:
    return [
        MetricRequest("AWS/EC2", "CPUUtilization", (("InstanceId", f"i-{n}"),), "Average", 3600, hour, hour + H)
        for n in range(series)
        for hour in hours
    ]


@pytest.mark.parametrize(("window", "series"), [(1, 1200), (6, 1200), (24, 1200), (24, 500), (24, 501)])
def test_a_window_is_read_with_one_query_per_metric_over_it_in_ceil_q_over_500_requests(window: int, series: int):
    # Given the hourly requests of a fleet for one collection window
    requests = _hourly_requests(series, [DAY + n * H for n in range(window)])
    # When they are planned, joined across the window's hours
    batches = cloudwatch.plan(set(cloudwatch.joined_windows(requests).values()))
    # Then one query per metric spans the window at one datapoint an hour, in ceil(Q/500) requests
    queries = [query for batch in batches for query in batch]
    assert len(queries) == series
    assert {(q.start, q.end, q.period) for q in queries} == {(DAY, DAY + window * H, 3600)}
    assert len(batches) == math.ceil(series / cloudwatch.MAX_QUERIES_PER_REQUEST)


def test_metrics_billed_for_a_day_at_24_hours_are_a_24th_and_at_6_hours_a_6th_of_hourly():
    day = [DAY + n * H for n in range(24)]

    def billed(window: int) -> int:
        total = 0
        for hours in by_window(day, window).values():
            joined = set(cloudwatch.joined_windows(_hourly_requests(700, hours)).values())
            total += sum(cloudwatch.billed_metrics(batch) for batch in cloudwatch.plan(joined))
        return total

    assert billed(24) * 24 == billed(1)
    assert billed(6) * 6 == billed(1)
