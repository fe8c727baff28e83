"""DynamoDB collection: tables and their global secondary indexes, their sizes, and the hour's consumed capacity.

moto reports every table as 0 bytes, so these tests seed sizes the way the embedded AWS does
(``devtools/aws/table_sizes.py``, tested on its own in ``test_embedded_table_sizes.py``). What moto cannot answer
at all (a table class, a global table's replicas, a table without a billing summary) comes from botocore's
Stubber, in DescribeTable's own shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import estimate
from carbonmeter.services import dynamodb
from devtools.aws.table_sizes import size_tags, table_sizes_as_seeded

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
GB = 10**9


@pytest.fixture(autouse=True)
def _seeded_sizes() -> Iterator[None]:
    with table_sizes_as_seeded():
        yield


def create_table(
    region: str, name: str, table_bytes: int = 0, indexes: dict[str, int] | None = None, *, provisioned: bool = False
) -> None:
    indexes = indexes or {}
    throughput = {"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}} if provisioned else {}
    gsis = [
        {
            "IndexName": index,
            "KeySchema": [{"AttributeName": f"{index}-pk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            **throughput,
        }
        for index in indexes
    ]
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": key, "AttributeType": "S"} for key in ("pk", *(f"{index}-pk" for index in indexes))
        ],
        BillingMode="PROVISIONED" if provisioned else "PAY_PER_REQUEST",
        **({"GlobalSecondaryIndexes": gsis} if gsis else {}),
        **throughput,
        Tags=size_tags(table_bytes, indexes),
    )


def put_capacity(region: str, table: str, metric: str, values: tuple[tuple[int, float], ...]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "TableName", "Value": table}],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
                "Unit": "Count",
            }
            for minute, value in values
        ],
    )


def test_discovers_every_table_with_its_table_and_index_sizes(clients: ClientFactory, region: str):
    create_table(region, "orders", 42 * GB, {"by-customer": 6 * GB, "by-day": 2 * GB})
    create_table(region, "sessions", 3 * GB, provisioned=True)

    resources = {resource.resource_id: resource for resource in dynamodb.SLICE.discover(clients, region)}

    assert {name: (r.region, r.resource_type, dict(r.attributes)) for name, r in resources.items()} == {
        "orders": (
            region,
            "STANDARD",  # no TableClassSummary: a table that never changed its class
            {
                "table_bytes": 42 * GB,
                "index_bytes": 8 * GB,
                "indexes": ("by-customer", "by-day"),
                "status": "ACTIVE",
                "billing_mode": "PAY_PER_REQUEST",
                "replica_regions": (),
            },
        ),
        "sessions": (
            region,
            "STANDARD",
            {
                "table_bytes": 3 * GB,
                "index_bytes": 0,
                "indexes": (),
                "status": "ACTIVE",
                "billing_mode": "PROVISIONED",
                "replica_regions": (),
            },
        ),
    }


def test_lists_every_page_of_tables_and_describes_each_once(clients: ClientFactory, counter: ApiCallCounter):
    # Given more tables than one ListTables page holds (100)
    for number in range(105):
        create_table("eu-west-1", f"t-{number:03d}")

    found = dynamodb.SLICE.discover(clients, "eu-west-1")

    assert sorted(resource.resource_id for resource in found) == [f"t-{number:03d}" for number in range(105)]
    assert counter.calls["dynamodb:ListTables"] == 2
    assert counter.calls["dynamodb:DescribeTable"] == 105


def test_a_global_tables_replicas_are_each_metered_once_in_their_own_region(clients: ClientFactory):
    # Given a global table: a replica listed in each of its two regions (as each region's ListTables lists it)
    for region, size in (("us-east-1", 40 * GB), ("eu-west-1", 39 * GB)):
        create_table(region, "profiles", size)

    # When both regions are discovered
    found = [resource for region in ("us-east-1", "eu-west-1") for resource in dynamodb.SLICE.discover(clients, region)]

    # Then each region has one record of its own replica, with that replica's size
    assert sorted((r.region, r.resource_id, r.attributes["table_bytes"]) for r in found) == [
        ("eu-west-1", "profiles", 39 * GB),
        ("us-east-1", "profiles", 40 * GB),
    ]


def stubbed_factory(description: dict[str, Any]) -> tuple[Any, Stubber]:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    stubber = Stubber(client)
    stubber.add_response("list_tables", {"TableNames": [description["TableName"]]})
    stubber.add_response("describe_table", {"Table": description}, {"TableName": description["TableName"]})

    class OneClient:
        def client(self, service: str, region: str) -> Any:
            assert (service, region) == ("dynamodb", "eu-west-1")
            return client

    return OneClient(), stubber


def test_a_replica_names_the_other_regions_but_adds_no_record_for_them():
    # Given DescribeTable of a global table's replica, as AWS answers it (moto models no global tables)
    factory, stubber = stubbed_factory(
        {
            "TableName": "profiles",
            "TableSizeBytes": 39 * GB,
            "TableStatus": "ACTIVE",
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "TableClassSummary": {"TableClass": "STANDARD_INFREQUENT_ACCESS"},
            "GlobalSecondaryIndexes": [{"IndexName": "by-email", "IndexSizeBytes": 2 * GB}],
            "Replicas": [
                {"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"},
                {"RegionName": "ap-southeast-2", "ReplicaStatus": "ACTIVE"},
                {"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"},
            ],
        }
    )
    with stubber:
        (resource,) = dynamodb.SLICE.discover(factory, "eu-west-1")

    # Then the one record is this region's replica, of its own class, naming the others it leaves to their regions
    assert (resource.region, resource.resource_id, resource.resource_type) == (
        "eu-west-1",
        "profiles",
        "STANDARD_INFREQUENT_ACCESS",
    )
    assert resource.attributes["replica_regions"] == ("ap-southeast-2", "us-east-1")
    assert (resource.attributes["table_bytes"], resource.attributes["index_bytes"]) == (39 * GB, 2 * GB)
    stubber.assert_no_pending_responses()


def test_a_table_described_without_a_billing_summary_is_provisioned():
    factory, stubber = stubbed_factory({"TableName": "legacy", "TableSizeBytes": 5 * GB, "TableStatus": "ACTIVE"})
    with stubber:
        (resource,) = dynamodb.SLICE.discover(factory, "eu-west-1")

    assert (resource.resource_type, resource.attributes["billing_mode"]) == ("STANDARD", "PROVISIONED")


def test_asks_for_the_hours_consumed_read_and_write_capacity(clients: ClientFactory):
    create_table("eu-west-1", "orders", GB)
    (resource,) = dynamodb.SLICE.discover(clients, "eu-west-1")

    assert dynamodb.SLICE.metric_requests(resource, HOUR) == [
        MetricRequest("AWS/DynamoDB", metric, (("TableName", "orders"),), "Sum", 3600, HOUR, HOUR + timedelta(hours=1))
        for metric in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits")
    ]


def test_turns_sizes_and_capacity_into_one_record_per_table(collect):
    create_table("eu-west-1", "orders", 42 * GB, {"by-customer": 6 * GB})
    create_table("eu-west-1", "quiet", 1 * GB)
    put_capacity("eu-west-1", "orders", "ConsumedReadCapacityUnits", ((0, 1200.0), (30, 800.0), (60, 5000.0)))
    put_capacity("eu-west-1", "orders", "ConsumedWriteCapacityUnits", ((15, 300.0),))
    # "quiet" served no request: DynamoDB publishes no datapoint for it

    records = {record.resource_id: record for record in collect(dynamodb.SLICE, "eu-west-1", HOUR)}

    orders = records["orders"]
    assert (orders.service, orders.resource_type, orders.region) == ("dynamodb", "STANDARD", "eu-west-1")
    assert (orders.details.table_gb, orders.details.indexes_gb) == (42.0, 6.0)
    # 11:00 belongs to the next hour
    assert (orders.details.consumed_read_capacity_units, orders.details.consumed_write_capacity_units) == (2000, 300)
    quiet = records["quiet"].details
    assert (quiet.consumed_read_capacity_units, quiet.consumed_write_capacity_units) == (None, None)


def test_collected_tables_are_estimated_by_their_storage_alone(collect, counter: ApiCallCounter):
    create_table("eu-west-1", "big", 100 * GB, {"by-type": 100 * GB})
    create_table("eu-west-1", "small", 100 * GB)
    put_capacity("eu-west-1", "big", "ConsumedWriteCapacityUnits", ((0, 10_000.0),))

    records = {record.resource_id: record for record in collect(dynamodb.SLICE, "eu-west-1", HOUR)}
    big, small = estimate(records["big"]), estimate(records["small"])

    # Twice the stored GB, twice the energy; the writes add nothing, and every record says so
    assert big.energy_kwh == pytest.approx(2 * small.energy_kwh)
    assert small.energy_kwh > 0
    assert big.compute_kwh == big.embodied_kgco2e == 0
    assert set(big.flags) == set(small.flags) == {"dynamodb_requests_not_metered", "dynamodb_size_at_collection"}
    # One ListTables and one DescribeTable a table; two metrics a table
    assert (counter.calls["dynamodb:ListTables"], counter.calls["dynamodb:DescribeTable"]) == (1, 2)
    assert counter.metrics_requested == 4
