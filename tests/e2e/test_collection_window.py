"""Collection windows end to end: a day collected in one window stores what hourly collection stores, for less."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carbonmeter.models import HOUR, hours_between
from carbonmeter.store import ConnectionStore, EmissionStore, StatusStore, UsageStore
from tests.support.local_cloud import register

# The statuses' fields that say what an hour got; the rest (when, by whom) differs between two collections.
STATUS_FIELDS = {"hour", "succeeded", "failed", "skipped", "attempts", "inventory_incomplete", "complete", "calculated"}


def _yesterday() -> list[datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return hours_between(today - timedelta(days=1), today)


def _ledger(cloud, connection_id: str) -> dict:
    """What a connection's day left stored: usage records, hour statuses and roll-ups, without the connection id."""
    usage = UsageStore(cloud.clients, cloud.settings.usage_table)
    emissions = EmissionStore(cloud.clients, cloud.settings.emissions_table)
    statuses = StatusStore(cloud.clients, cloud.settings.usage_table).between(
        connection_id, cloud.hours[0], cloud.hours[-1] + HOUR
    )
    rollups = emissions.rollups(connection_id, cloud.hours[0], cloud.hours[-1] + HOUR)
    return {
        "usage": sorted(
            r.model_dump_json(exclude={"connection_id"}) for h in cloud.hours for r in usage.read_hour(connection_id, h)
        ),
        "statuses": {hour: status.model_dump(include=STATUS_FIELDS) for hour, status in statuses.items()},
        "rollups": sorted(r.model_dump_json(exclude={"connection_id"}) for r in rollups),
    }


def _collect_day(cloud, connection_id: str, window_hours: int | None) -> tuple[int, int, int]:
    """Register ``connection_id`` at ``window_hours`` from the day's start, run the scheduler once the day has
    settled, and drain both queues: the jobs queued, and the metrics and GetMetricData requests the day cost."""
    register(cloud, connection_id, from_first_hour=True, window_hours=window_hours)
    counter = cloud.handler_clients.counter
    metrics, requests = counter.metrics_requested, counter.calls.get("monitoring:GetMetricData", 0)
    cloud.pipeline.fire_schedule(cloud.pipeline.fire_time(cloud.hours[-1]))
    collected, calculated = cloud.pipeline.drain_collect(), cloud.pipeline.drain_calculate()
    assert (collected.failed, calculated.failed) == (0, 0)
    assert calculated.succeeded == len(cloud.hours)
    return (
        collected.succeeded,
        counter.metrics_requested - metrics,
        counter.calls.get("monitoring:GetMetricData", 0) - requests,
    )


def test_a_day_collected_in_one_window_stores_what_hourly_collection_stores_for_a_24th_of_the_metrics(
    local_cloud, handlers_on
):
    # Given the demo account seeded for yesterday (UTC), and three connections to it from that day's start
    cloud = local_cloud(seeded_hours=_yesterday())
    with handlers_on(cloud):
        # When the hourly run queues the settled day for each and the pipeline drains: hourly, at 6 and at 24 hours
        hourly_jobs, hourly_metrics, hourly_requests = _collect_day(cloud, "hourly", None)
        six_jobs, six_metrics, six_requests = _collect_day(cloud, "six", 6)
        day_jobs, day_metrics, day_requests = _collect_day(cloud, "daily", 24)
    # Then the windowed connections were collected in one job per window
    assert (hourly_jobs, six_jobs, day_jobs) == (24, 4, 1)
    # And they store exactly the usage, statuses and roll-ups the hourly one does
    hourly = _ledger(cloud, "hourly")
    assert hourly["usage"]
    assert len(hourly["statuses"]) == 24
    assert all(status["complete"] and status["calculated"] for status in hourly["statuses"].values())
    assert _ledger(cloud, "six") == hourly
    assert _ledger(cloud, "daily") == hourly
    # And they requested 1/6 and 1/24 of the metrics, in as many fewer requests
    assert six_metrics * 6 == hourly_metrics
    assert day_metrics * 24 == hourly_metrics
    assert day_requests * 24 == hourly_requests
    assert six_requests * 6 == hourly_requests
    # And each connection keeps what one collection requests, from which its monthly monitoring cost is shown
    store = ConnectionStore(cloud.clients, cloud.settings.connections_table)
    assert store.get("daily").metrics_per_collection == day_metrics
    assert store.get("hourly").metrics_per_collection == hourly_metrics // 24
    assert store.get("daily").last_success_hour == store.get("hourly").last_success_hour
