"""An hour whose calculation failed for good is calculated again by the hourly run, not lost with its DLQ."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from carbonmeter.aws import ClientFactory
from carbonmeter.store import EmissionStore, StatusStore
from tests.support.aws_hooks import refuse_batch_writes_to
from tests.support.local_cloud import register

CONNECTION = "tenant"


def test_a_calculation_that_failed_for_good_is_queued_again_and_stored(local_cloud, handlers_on):
    # Given an hour collected while every write of its emissions failed
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION, from_first_hour=True)
    hour = cloud.hours[-1]
    statuses = StatusStore(cloud.clients, cloud.settings.usage_table)
    refuse = refuse_batch_writes_to(cloud.settings.emissions_table, "InternalServerError", "down", 500)
    refusing = ClientFactory(settings=cloud.settings, hooks=(refuse,))
    with handlers_on(replace(cloud, handler_clients=refusing)):
        cloud.pipeline.fire_schedule(cloud.pipeline.fire_time(hour))
        cloud.pipeline.drain_collect()
        cloud.pipeline.drain_calculate(max_batches=1)
    failed = statuses.get(CONNECTION, hour)
    assert failed is not None
    assert failed.complete
    assert not failed.calculated
    assert "InternalServerError" in (failed.calculation_error or "")
    # and its calculate job then left the queue for good (its dead-letter queue's retention ran out)
    assert cloud.settings.calculate_queue_url
    cloud.clients.client("sqs").purge_queue(QueueUrl=cloud.settings.calculate_queue_url)
    assert EmissionStore(cloud.clients, cloud.settings.emissions_table).read_hour(CONNECTION, hour) == []

    # When the hourly run fires once the calculate job's own retries are over, with the table back
    # (status times are the wall clock's, so one more hour keeps the test clear of the retry boundary)
    later = cloud.pipeline.fire_time(hour) + timedelta(hours=cloud.settings.retry_incomplete_after_hours + 1)
    with handlers_on(cloud):
        cloud.pipeline.fire_schedule(later)
        cloud.pipeline.drain_collect()
        calculated = cloud.pipeline.drain_calculate()

    # Then the hour's emissions are stored, and its status says they match its usage
    assert calculated.succeeded >= 1
    assert EmissionStore(cloud.clients, cloud.settings.emissions_table).read_hour(CONNECTION, hour)
    done = statuses.get(CONNECTION, hour)
    assert done is not None
    assert done.calculated
    assert done.calculation_error is None
