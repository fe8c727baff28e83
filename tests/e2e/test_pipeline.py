"""The hourly pipeline end to end: scheduler -> collect queue -> collector -> calculate queue -> calculator."""

from __future__ import annotations

import json

import pytest

from carbonmeter.emissions import METHODOLOGY_VERSION
from carbonmeter.metrics import COLLECTOR_COUNT_METRICS, MetricName
from carbonmeter.models import ALL_REGIONS, GLOBAL_REGION, HOUR, CollectJob, Service, hour_key
from carbonmeter.services import GLOBAL_SERVICES, REGIONAL_SERVICES
from carbonmeter.store import ConnectionStore, EmissionStore, StatusStore, UsageStore
from devtools.aws import lifetimes
from tests.support.aws_hooks import deny_assume_role
from tests.support.local_cloud import CONNECTION, register


def _stored(cloud, connection_id: str = CONNECTION) -> dict:
    emissions = EmissionStore(cloud.clients, cloud.settings.emissions_table)
    usage = UsageStore(cloud.clients, cloud.settings.usage_table)
    return {
        hour: (
            sorted(r.model_dump_json() for r in usage.read_hour(connection_id, hour)),
            sorted(r.model_dump_json() for r in emissions.read_hour(connection_id, hour)),
        )
        for hour in cloud.hours
    }


def test_every_seeded_resource_gets_emissions_every_hour(local_cloud, handlers_on):
    # Given a demo account with all five services in three regions, registered as a connection
    cloud = local_cloud(hours=3)
    register(cloud)
    # When the hourly rule fires after each hour and both queues drain through the real handlers
    with handlers_on(cloud):
        for hour in cloud.hours:
            collected, calculated = cloud.pipeline.run_hour(hour)
            assert (collected.succeeded, collected.failed, calculated.succeeded, calculated.failed) == (1, 0, 1, 0)
    # Then every resource the account holds has an emission record in every hour
    emissions = EmissionStore(cloud.clients, cloud.settings.emissions_table)
    for hour in cloud.hours:
        records = emissions.read_hour(CONNECTION, hour)
        # (the regions, and ``global`` for the global services: CloudFront)
        for region in cloud.account.resources:
            for service in Service:
                expected = set(cloud.account.resources[region][service])
                found = {r.resource_id for r in records if r.region == region and r.service == service}
                assert found == expected, (hour, region, service)
        assert all(r.methodology_version == METHODOLOGY_VERSION for r in records)
        assert all(r.energy_kwh > 0 for r in records if r.service in (Service.EC2, Service.RDS, Service.EBS))
        # And every stored record carries its range around the central figures
        for record in records:
            for figure in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e"):
                bounds = getattr(record, f"{figure}_range")
                assert bounds is not None, (record.resource_id, figure)
                assert bounds.low <= getattr(record, figure) <= bounds.high, (record.resource_id, figure)
    # And roll-ups per region and service add up to the resource records
    rollups = emissions.rollups(CONNECTION, cloud.hours[0], cloud.hours[-1] + HOUR)
    scopes = len(cloud.account.regions) * len(REGIONAL_SERVICES) + len(GLOBAL_SERVICES)
    assert len(rollups) == len(cloud.hours) * scopes
    first = emissions.read_hour(CONNECTION, cloud.hours[0])
    first_rollups = [r for r in rollups if r.hour == cloud.hours[0]]
    assert sum(r.energy_kwh for r in first_rollups) == pytest.approx(sum(r.energy_kwh for r in first))
    # And the connection records its last collected hour
    connection = ConnectionStore(cloud.clients, cloud.settings.connections_table).get(CONNECTION)
    assert connection.last_success_hour == hour_key(cloud.hours[-1])
    assert connection.last_error is None


def test_an_hour_collected_twice_leaves_the_same_records(local_cloud, handlers_on):
    # Given one hour collected and calculated
    cloud = local_cloud(hours=2)
    register(cloud)
    with handlers_on(cloud):
        for hour in cloud.hours:
            cloud.pipeline.run_hour(hour)
        once = _stored(cloud)
        # When the same hours are delivered again (a duplicate schedule, a retry, a backfill over them)
        backfill = {
            "connection_ids": [CONNECTION],
            "start": hour_key(cloud.hours[0]),
            "end": hour_key(cloud.hours[-1] + HOUR),
        }
        assert cloud.pipeline.invoke_scheduler(backfill)["jobs"] == 2
        duplicate = CollectJob(connection_id=CONNECTION, hour=cloud.hours[0]).model_dump_json()
        cloud.clients.client("sqs").send_message(QueueUrl=cloud.settings.collect_queue_url, MessageBody=duplicate)
        # (the hourly run itself sees the hour collected and queues nothing)
        assert cloud.pipeline.fire_schedule(cloud.pipeline.fire_time(cloud.hours[-1]))["jobs"] == 0
        collected = cloud.pipeline.drain_collect()
        calculated = cloud.pipeline.drain_calculate()
    # Then every message succeeded and the ledger is exactly what it was
    assert (collected.succeeded, calculated.succeeded) == (3, 3)
    assert _stored(cloud) == once
    assert all(usage and emissions for usage, emissions in once.values())


def test_a_connection_whose_role_cannot_be_assumed_fails_alone_and_ends_in_the_dlq(local_cloud, handlers_on):
    # Given a healthy connection and one whose role refuses us
    cloud = local_cloud(hours=1, hooks=(deny_assume_role("CarbonMeterRevoked"),))
    register(cloud)
    register(cloud, "revoked", role_arn=f"arn:aws:iam::{cloud.account.account_id}:role/CarbonMeterRevoked")
    sqs = cloud.clients.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName="carbonmeter-collect-dlq")["QueueUrl"]
    with handlers_on(cloud):
        # When the hour is scheduled and the collect queue drains (failed messages come back until redriven)
        cloud.pipeline.fire_schedule(cloud.pipeline.fire_time(cloud.hours[0]))
        collected = cloud.pipeline.drain_collect()
        cloud.pipeline.drain_calculate()
    # Then the healthy connection's hour is stored
    assert collected.succeeded == 1
    assert EmissionStore(cloud.clients, cloud.settings.emissions_table).read_hour(CONNECTION, cloud.hours[0])
    # And the failing one was tried three times, is in the dead-letter queue, and says why
    assert collected.failed == 3
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["connection_id"] for m in dead] == ["revoked"]
    revoked = ConnectionStore(cloud.clients, cloud.settings.connections_table).get("revoked")
    assert "AccessDenied" in (revoked.last_error or "")
    assert UsageStore(cloud.clients, cloud.settings.usage_table).read_hour("revoked", cloud.hours[0]) == []


def test_collector_publishes_its_counts_as_embedded_metrics(local_cloud, handlers_on, capsys, monkeypatch):
    # Given metrics switched on, as in Lambda
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    cloud = local_cloud(hours=1)
    register(cloud)
    with handlers_on(cloud):
        cloud.pipeline.run_hour(cloud.hours[0])
    # Then the collector's EMF document carries the connection-hour's resources, calls and metrics
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    # (one document per attempt: a connection-hour retried after a failed scope publishes twice, and what is stored
    # is the last attempt's)
    collector = [d for d in documents if "UsageRecordsWritten" in d][-1]
    assert collector["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "CarbonMeter"
    stored = UsageStore(cloud.clients, cloud.settings.usage_table).read_hour(CONNECTION, cloud.hours[0])
    figure = {name: value[0] if isinstance(value, list) else value for name, value in collector.items()}
    assert figure["UsageRecordsWritten"] == len(stored)
    # two period groups per region (hourly, S3's daily), and the global services' hourly one
    assert figure["GetMetricDataRequests"] == 2 * len(cloud.account.regions) + 1
    assert figure["MetricsRequested"] > 0
    assert figure["ApiCalls"] > figure["GetMetricDataRequests"]
    # And it emits every metric the stack's dashboard graphs for it, under the names infra/ uses
    emitted = {metric["Name"] for metric in collector["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {*COLLECTOR_COUNT_METRICS, MetricName.COLLECT_DURATION} <= emitted


def test_a_connection_of_every_enabled_region_collects_a_region_enabled_later(local_cloud, handlers_on):
    # Given the demo account registered for every enabled region, and a volume in an opt-in region it has not enabled
    cloud = local_cloud(hours=2)
    register(cloud, regions=(ALL_REGIONS,))
    opt_in = "me-central-1"
    volume = cloud.clients.client("ec2", opt_in).create_volume(
        AvailabilityZone=f"{opt_in}a", Size=500, VolumeType="gp3"
    )["VolumeId"]
    # (made before the hours: moto stamps its CreateTime with now, after them)
    lifetimes.set_volume_created(opt_in, volume, cloud.hours[0] - HOUR, cloud.account.account_id)
    statuses = StatusStore(cloud.clients, cloud.settings.usage_table)
    emissions = EmissionStore(cloud.clients, cloud.settings.emissions_table)
    with handlers_on(cloud):
        # When the first hour runs, the customer then enables the region, and the second hour runs
        first, second = cloud.hours
        cloud.pipeline.run_hour(first)
        cloud.clients.client("account").enable_region(RegionName=opt_in)
        cloud.pipeline.run_hour(second)
    # Then the first hour covers the seeded regions and no scope of the opt-in region
    first_status, second_status = (statuses.get(CONNECTION, hour) for hour in (first, second))
    assert first_status.complete
    assert second_status.complete
    assert not any(scope.startswith(opt_in) for scope in first_status.succeeded)
    # And the second hour collects it too, without the connection being edited
    assert {f"{opt_in}/{service}" for service in REGIONAL_SERVICES} <= set(second_status.succeeded)
    assert volume not in {r.resource_id for r in emissions.read_hour(CONNECTION, first)}
    second_records = emissions.read_hour(CONNECTION, second)
    assert {r.region for r in second_records if r.resource_id == volume} == {opt_in}
    # And the seeded regions' resources are metered in both hours, each once
    for hour in (first, second):
        records = [r for r in emissions.read_hour(CONNECTION, hour) if r.region in cloud.account.regions]
        # (a bucket has one record per storage class)
        keys = [(r.region, r.service, r.resource_id, r.resource_type) for r in records]
        expected = {
            (region, service, resource_id)
            for region in cloud.account.regions
            for service in Service
            for resource_id in cloud.account.resources[region][service]
        }
        assert len(keys) == len(set(keys))
        assert {key[:3] for key in keys} == expected
        # And the global services' resources once each, however many regions the account enables
        edge = [r.resource_id for r in emissions.read_hour(CONNECTION, hour) if r.region == GLOBAL_REGION]
        assert sorted(edge) == sorted(cloud.account.resources[GLOBAL_REGION][Service.CLOUDFRONT])
