from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection, EmissionRecord, Rollup, Service, UsageRecord
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, UnknownConnectionError, UsageStore
from devtools.aws.resources import create_resources

HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)
ROLE_ARN = "arn:aws:iam::123456789012:role/CarbonMeterReadOnly"


@pytest.fixture
def clients(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        create_resources(factory, factory.settings)
        yield factory


def _usage(resource_id: str, connection_id: str = "acme", hour: datetime = HOUR) -> UsageRecord:
    return UsageRecord(
        connection_id=connection_id,
        account_id="123456789012",
        hour=hour,
        region="eu-west-1",
        service=Service.EC2,
        resource_id=resource_id,
        resource_type="m5.large",
        vcpus=2,
        memory_gib=8,
        cpu_utilization_pct=12.5,
        network_out_bytes=1.5e9,
    )


def _emission(resource_id: str) -> EmissionRecord:
    return EmissionRecord(
        connection_id="acme",
        account_id="123456789012",
        hour=HOUR,
        region="eu-west-1",
        service=Service.EC2,
        resource_id=resource_id,
        resource_type="m5.large",
        hours=1.0,
        compute_kwh=0.004,
        memory_kwh=0.002,
        storage_kwh=0.0,
        network_kwh=0.0015,
        operational_kgco2e=0.0021,
        embodied_kgco2e=0.0009,
        grid_kgco2e_per_kwh=0.2786,
        methodology_version="test",
    )


def test_collecting_an_hour_twice_leaves_the_same_records(clients):
    usage = UsageStore(clients, clients.settings.usage_table)
    records = [_usage("i-1"), _usage("i-2")]
    usage.replace_hour("acme", HOUR, records)
    first = usage.read_hour("acme", HOUR)
    usage.replace_hour("acme", HOUR, records)
    assert sorted(usage.read_hour("acme", HOUR), key=lambda r: r.resource_id) == sorted(
        first, key=lambda r: r.resource_id
    )
    assert {r.resource_id for r in first} == {"i-1", "i-2"}
    # Values survive the round trip through DynamoDB's Decimal numbers.
    assert first[0].network_out_bytes == 1.5e9
    assert first[0].details.cpu_utilization_pct == 12.5


def test_recollecting_an_hour_drops_resources_that_are_gone(clients):
    usage = UsageStore(clients, clients.settings.usage_table)
    usage.replace_hour("acme", HOUR, [_usage("i-1"), _usage("i-2")])
    usage.replace_hour("acme", HOUR, [_usage("i-2")])
    assert [r.resource_id for r in usage.read_hour("acme", HOUR)] == ["i-2"]


def test_records_of_another_connection_are_refused_and_nothing_is_written(clients):
    usage = UsageStore(clients, clients.settings.usage_table)
    with pytest.raises(ValueError, match="does not belong"):
        usage.replace_hour("acme", HOUR, [_usage("i-1"), _usage("i-9", connection_id="other")])
    assert usage.read_hour("acme", HOUR) == []
    assert usage.read_hour("other", HOUR) == []


def test_emissions_and_rollups_are_replaced_per_hour_and_read_by_window(clients):
    store = EmissionStore(clients, clients.settings.emissions_table)
    rollup = Rollup(
        connection_id="acme",
        hour=HOUR,
        region="eu-west-1",
        service=Service.EC2,
        resources=2,
        energy_kwh=0.015,
        operational_kgco2e=0.0042,
        embodied_kgco2e=0.0018,
        methodology_version="test",
    )
    store.replace_hour("acme", HOUR, [_emission("i-1"), _emission("i-2")], [rollup])
    store.replace_hour("acme", HOUR, [_emission("i-1"), _emission("i-2")], [rollup])
    assert len(store.read_hour("acme", HOUR)) == 2
    assert store.rollups("acme", HOUR, HOUR.replace(hour=11)) == [rollup]
    assert store.rollups("acme", HOUR.replace(hour=11), HOUR.replace(hour=12)) == []
    assert store.rollups("other", HOUR, HOUR.replace(hour=11)) == []


def test_connection_registry_round_trip_and_status(clients):
    connections = ConnectionStore(clients, clients.settings.connections_table)
    for index in range(3):
        connections.put(
            Connection(
                connection_id=f"c{index}",
                role_arn=f"arn:aws:iam::12345678901{index}:role/CarbonMeterReadOnly",
                external_id=f"secret-{index}",
                regions=("us-east-1", "eu-west-1"),
            )
        )
    connections.set_enabled("c1", False)
    connections.record_success("c0", HOUR, inventory_since=HOUR)
    connections.record_failure("c2", "AccessDenied")

    assert sorted(c.connection_id for c in connections.list(enabled_only=True)) == ["c0", "c2"]
    c0 = connections.get("c0")
    assert (c0.last_success_hour, c0.external_id, c0.regions) == (
        "2026-11-23T10:00:00Z",
        "secret-0",
        ("us-east-1", "eu-west-1"),
    )
    assert connections.schedule("c0").inventory_since == HOUR
    assert connections.get("c2").last_error == "AccessDenied"
    with pytest.raises(UnknownConnectionError, match="ghost"):
        connections.get("ghost")
    with pytest.raises(UnknownConnectionError):
        connections.set_enabled("ghost", False)


def test_the_last_collected_hour_only_moves_forward_whatever_order_the_hours_are_collected_in(clients):
    # Given a connection whose 10:00 was collected
    connections = ConnectionStore(clients, clients.settings.connections_table)
    connections.put(Connection(connection_id="c0", role_arn=ROLE_ARN, external_id="secret", regions=("us-east-1",)))
    connections.record_success("c0", HOUR, inventory_since=HOUR, metrics_requested=10)
    # When an earlier hour (a backfill, a retry) is collected after it
    earlier = HOUR.replace(hour=7)
    connections.record_success("c0", earlier, inventory_since=earlier, metrics_requested=12)
    # Then the connection still shows 10:00, with the latest collection's metrics and the inventory's first start
    c0 = connections.get("c0")
    assert (c0.last_success_hour, c0.metrics_per_collection) == ("2026-11-23T10:00:00Z", 12)
    assert connections.schedule("c0").inventory_since == HOUR
    # And a later hour moves it on
    connections.record_success("c0", HOUR.replace(hour=11), inventory_since=HOUR)
    assert connections.get("c0").last_success_hour == "2026-11-23T11:00:00Z"
    # And an unknown connection is still refused
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        connections.record_success("ghost", HOUR, inventory_since=HOUR)


def _fleet(prefix: str, size: int) -> list[Connection]:
    return [
        Connection(
            connection_id=f"{prefix}{n:02d}",
            role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
            external_id=f"secret-{n}",
            regions=("us-east-1",),
            created_at=HOUR,
            window_hours=6 if n % 2 else None,
        )
        for n in range(size)
    ]


def _stored(clients: ClientFactory, prefix: str) -> list[dict]:
    items = clients.client("dynamodb").scan(TableName=clients.settings.connections_table)["Items"]
    found = [item for item in items if item["connection_id"]["S"].startswith(prefix)]
    # The same item under either prefix: compared without the id
    return sorted(
        ({**item, "connection_id": {"S": item["connection_id"]["S"][len(prefix) :]}} for item in found),
        key=lambda item: item["connection_id"]["S"],
    )


def test_a_fleet_put_at_once_is_stored_as_put_stores_each_in_a_25th_of_the_requests(clients):
    # Given 60 connections put one at a time
    one_by_one = ConnectionStore(clients, clients.settings.connections_table)
    for connection in _fleet("one-", 60):
        one_by_one.put(connection)
    # When the same 60 (under other ids) are put at once, through a counting client
    counted = ClientFactory(settings=clients.settings)
    assert ConnectionStore(counted, clients.settings.connections_table).put_many(_fleet("all-", 60)) == 60
    # Then every item is the same attributes, and three BatchWriteItem requests (25, 25, 10) stored them
    assert _stored(clients, "all-") == _stored(clients, "one-")
    assert len(_stored(clients, "all-")) == 60
    assert counted.counter.calls == {"dynamodb:BatchWriteItem": 3}
