"""A backfill charges nothing before a resource existed: 30 days over a fleet made 10 days ago, through the
deployed pipeline (scheduler, backfill chunks, collector, calculator) on the embedded AWS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carbonmeter.models import HOUR, Connection, Service, hour_key
from carbonmeter.store import ConnectionStore, StatusStore, UsageStore
from devtools.aws import lifetimes
from tests.support.local_cloud import CONNECTION

REGION = "eu-west-1"
SERVICES = (Service.EC2, Service.EBS, Service.RDS, Service.S3)


# 720 connection-hours through the collector and the calculator: several minutes.
@pytest.mark.slow
def test_a_30_day_backfill_over_a_fleet_made_10_days_ago_charges_nothing_before_it(local_cloud, handlers_on):
    # Given a fleet in eu-west-1 made ten days before the latest settled hour, and a connection to it
    cloud = local_cloud(hours=1)
    end = cloud.hours[-1] + HOUR
    made = end - timedelta(days=10)
    lifetimes.backdate(REGION, made, cloud.account.account_id)
    ConnectionStore(cloud.clients, cloud.settings.connections_table).put(
        Connection(
            connection_id=CONNECTION,
            role_arn=cloud.account.role_arn,
            external_id=cloud.account.external_id,
            regions=(REGION,),
            services=SERVICES,
        )
    )
    start = end - timedelta(days=30)

    # When the last 30 days are backfilled
    with handlers_on(cloud):
        cloud.pipeline.invoke_scheduler(
            {"connection_ids": [CONNECTION], "start": hour_key(start), "end": hour_key(end)}
        )
        collected = cloud.pipeline.drain_collect()
        cloud.pipeline.drain_calculate()

    # Then every hour was collected, and none before the fleet was made charges anything
    assert collected.failed == 0
    usage = UsageStore(cloud.clients, cloud.settings.usage_table)
    hours = [start + HOUR * index for index in range(30 * 24)]
    charged = {hour: usage.read_hour(CONNECTION, hour) for hour in hours}
    assert all(not records for hour, records in charged.items() if hour < made)
    # And every hour since charges each volume, database and bucket, a whole hour each
    for hour in (hour for hour in hours if hour >= made):
        for service in (Service.EBS, Service.RDS, Service.S3):
            found = {r.resource_id for r in charged[hour] if r.service == service}
            assert found == set(cloud.account.resources[REGION][service]), (hour, service)
        assert all(record.hours == 1.0 for record in charged[hour] if record.service != Service.EC2)
    # And the hours that ended before CarbonMeter first looked say their inventory was incomplete
    statuses = StatusStore(cloud.clients, cloud.settings.usage_table).between(CONNECTION, start, end)
    assert len(statuses) == len(hours)
    assert statuses[start].inventory_incomplete
