"""DynamoDB: every table listed in the region, sized by DescribeTable, with the hour's consumed capacity.

One record per table (``resource_id`` = the table name, ``resource_type`` = its table class). Its storage is the
table's ``TableSizeBytes`` plus each global secondary index's ``IndexSizeBytes``, as DescribeTable reports them
when the hour is collected: AWS refreshes both about every six hours and keeps no history of them (no CloudWatch
metric), so the figure is the latest refresh, not the hour's own (flagged ``dynamodb_size_at_collection``).

A global table's replica is a table of its own in its replica's region, listed there by ListTables: each region
records the replica it lists, once, and never the replicas it names in ``Replicas``.

Requests have no published energy figure: the hour's ``ConsumedReadCapacityUnits`` and
``ConsumedWriteCapacityUnits`` are kept on the record, and the estimate leaves them out (flagged
``dynamodb_requests_not_metered``). The estimate is storage energy only, by the table class's media and
replication (``storage-classes.csv``); builtin only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.parts import Parts, class_storage
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

NAMESPACE = "AWS/DynamoDB"
PERIOD = 3600
BYTES_PER_GB = 1e9
READ_METRIC = "ConsumedReadCapacityUnits"
WRITE_METRIC = "ConsumedWriteCapacityUnits"
# DescribeTable leaves TableClassSummary out for a table that never changed its class: it is STANDARD.
DEFAULT_TABLE_CLASS = "STANDARD"


# Flags, declared with the slice that raises them (see ``emissions/parts.py`` for the shared ones).
DYNAMODB_REQUESTS_NOT_METERED = "dynamodb_requests_not_metered"
DYNAMODB_SIZE_AT_COLLECTION = "dynamodb_size_at_collection"


class DynamoDbUsage(ServiceUsage):
    """A table-hour: the GB its table and global secondary indexes held, and the capacity it consumed."""

    service: Literal[Service.DYNAMODB] = Service.DYNAMODB
    table_gb: float = 0.0
    indexes_gb: float = 0.0
    billing_mode: str | None = None
    # Regions of the global table's other replicas (each metered in its own region); empty for a plain table.
    replica_regions: tuple[str, ...] = ()
    consumed_read_capacity_units: float | None = None
    consumed_write_capacity_units: float | None = None

    @property
    def storage_gb(self) -> float:
        return self.table_gb + self.indexes_gb


class DynamoDbSlice(ServiceSlice[DynamoDbUsage]):
    name = Service.DYNAMODB
    details_type = DynamoDbUsage
    # What ``_resource`` reads of DescribeTable's answer: it is parsed to these alone.
    read_members = MappingProxyType(
        {
            ("dynamodb", "TableDescription"): frozenset(
                {
                    "TableName",
                    "TableClassSummary",
                    "TableSizeBytes",
                    "GlobalSecondaryIndexes",
                    "TableStatus",
                    "BillingModeSummary",
                    "Replicas",
                    "CreationDateTime",
                }
            )
        }
    )
    read_actions = ("dynamodb:ListTables", "dynamodb:DescribeTable")
    # Neither Boavizta nor the HTTP API's contract models DynamoDB: builtin only.
    providers = frozenset()
    main_part = "storage"
    data_files = ("storage-classes.csv",)
    embodied_not_modelled = "the methodology has no embodied figure for the SSDs a table is stored on"
    flag_meanings = MappingProxyType(
        {
            DYNAMODB_REQUESTS_NOT_METERED: "requests carry no energy: storage only",
            DYNAMODB_SIZE_AT_COLLECTION: "table size as of collection (refreshed six-hourly)",
        }
    )

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        dynamodb = clients.client("dynamodb", region)
        names = [name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]
        return [_resource(region, dynamodb.describe_table(TableName=name)["Table"]) for name in names]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        dimensions = (("TableName", resource.resource_id),)
        return [
            MetricRequest(NAMESPACE, metric, dimensions, "Sum", PERIOD, hour, hour + HOUR)
            for metric in (READ_METRIC, WRITE_METRIC)
        ]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        read, write = (_hour_sum(metrics, request) for request in self.metric_requests(resource, context.hour))
        attributes = resource.attributes
        details = DynamoDbUsage(
            table_gb=attributes["table_bytes"] / BYTES_PER_GB,
            indexes_gb=attributes["index_bytes"] / BYTES_PER_GB,
            billing_mode=attributes["billing_mode"],
            replica_regions=attributes["replica_regions"],
            consumed_read_capacity_units=read,
            consumed_write_capacity_units=write,
        )
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: DynamoDbUsage, c: Coefficients) -> Parts:
        parts = Parts()
        # The record's type is the table class (TableClassSummary).
        parts.storage = class_storage(
            c, parts, Service.DYNAMODB.value, usage.resource_type, details.storage_gb, usage.hours
        )
        parts.flag(DYNAMODB_SIZE_AT_COLLECTION)
        parts.flag(DYNAMODB_REQUESTS_NOT_METERED)
        return parts


def _hour_sum(metrics: Mapping[MetricRequest, Sequence[float]], request: MetricRequest) -> float | None:
    """The hour's total, or None when CloudWatch has no datapoint (no request at all publishes none)."""
    values = metrics.get(request, ())
    return float(sum(values)) if values else None


def _resource(region: str, table: Mapping[str, Any]) -> Resource:
    indexes = table.get("GlobalSecondaryIndexes", [])
    return Resource(
        service=Service.DYNAMODB,
        region=region,
        resource_id=table["TableName"],
        resource_type=table.get("TableClassSummary", {}).get("TableClass", DEFAULT_TABLE_CLASS),
        attributes={
            "table_bytes": int(table.get("TableSizeBytes", 0)),
            "index_bytes": sum(int(index.get("IndexSizeBytes", 0)) for index in indexes),
            "indexes": tuple(index["IndexName"] for index in indexes),
            "status": table.get("TableStatus"),
            # A provisioned table may come without a summary (or, on moto, with an empty one).
            "billing_mode": table.get("BillingModeSummary", {}).get("BillingMode") or "PROVISIONED",
            "replica_regions": tuple(
                sorted(
                    replica["RegionName"]
                    for replica in table.get("Replicas", [])
                    if replica.get("RegionName") and replica["RegionName"] != region
                )
            ),
        },
        created_at=table.get("CreationDateTime"),
    )


SLICE = DynamoDbSlice()
