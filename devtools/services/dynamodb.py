"""DynamoDB on the workbench: tables with global secondary indexes, their sizes, and their consumed capacity.

Moto reports every table as 0 bytes; the embedded AWS reports the sizes seeded here, given as CreateTable tags
(``devtools/aws/table_sizes.py``). DynamoDB publishes ConsumedRead/WriteCapacityUnits every minute, so each hourly
datum is the sum of 60 samples, one series per table (TableName).

The same API serves CarbonMeter's own tables (``COMMON_CLIENT_FAULTS`` holds this part's shape, ``DYNAMODB_API``).
When the workbench deploys CarbonMeter into the account it seeds (the demo and the end-to-end tests do: one moto
account), those tables are the account's too, in CarbonMeter's home region, and a collector finds them there:
``create`` lists them among what it should find, by the deployment's own table names.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.dynamodb import NAMESPACE, READ_METRIC, WRITE_METRIC
from devtools.aws.table_sizes import size_tags
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.metrics import MetricWriter, Profile, total_datum
from infra.constants import TABLES

SAMPLES_PER_HOUR = 60  # DynamoDB publishes its capacity metrics every minute
GB = 1e9
SECONDS_PER_HOUR = 3600

# DynamoDB's API, for the customer's tables and for CarbonMeter's own alike (one shape: see the module's doc).
# A region the account has not enabled answers UnrecognizedClientException, as every JSON-protocol API does.
DYNAMODB_API = ClientFaults(
    "dynamodb",
    throttling=("ProvisionedThroughputExceededException", 400),
    region_not_enabled=("UnrecognizedClientException", 400),
    soak_order=6,
)


@dataclass(frozen=True)
class TableSpec:
    purpose: str
    billing_mode: str
    table_gb: float
    # Global secondary index name -> GB it holds.
    indexes_gb: Mapping[str, float]
    # Mean capacity units a second at the busiest hour of the day.
    peak_reads: float
    peak_writes: float


class DynamoDbDevtools(ServiceDevtools[TableSpec]):
    service = Service.DYNAMODB
    clients = (DYNAMODB_API,)
    demo_fleet = (
        TableSpec("orders", "PAY_PER_REQUEST", 42, {"by-customer": 6.5}, peak_reads=180, peak_writes=40),
        TableSpec("sessions", "PROVISIONED", 3.2, {}, peak_reads=450, peak_writes=160),
        TableSpec("events", "PAY_PER_REQUEST", 310, {"by-type": 48, "by-source": 21}, peak_reads=12, peak_writes=260),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[TableSpec]) -> None:
        dynamodb = seeding.client("dynamodb")
        # Each table draws its sizes and profile, then its metrics: interleaved, as ElastiCache does.
        for index, spec in enumerate(specs):
            name = f"demo-{spec.purpose}-{index:05d}"
            _create_table(dynamodb, name, spec, seeding.rng)
            seeding.resources[Service.DYNAMODB].append(name)
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            _put_table_metrics(seeding.metrics, name, spec, profile, seeding.hours, seeding.rng)
        seeding.resources[Service.DYNAMODB].extend(_carbonmeter_tables(seeding, dynamodb))


def _create_table(dynamodb: Any, name: str, spec: TableSpec, rng: random.Random) -> None:
    table_bytes = round(spec.table_gb * GB * rng.uniform(0.7, 1.3))
    index_bytes = {index: round(gb * GB * rng.uniform(0.7, 1.3)) for index, gb in spec.indexes_gb.items()}
    keys = ["pk", "sk", *(f"{index}-pk" for index in spec.indexes_gb)]
    provisioned = spec.billing_mode == "PROVISIONED"
    # Provisioned with half again the peak as headroom, as a team sizing it by hand would.
    capacity = {"ReadCapacityUnits": round(spec.peak_reads * 1.5), "WriteCapacityUnits": round(spec.peak_writes * 1.5)}
    throughput = {"ProvisionedThroughput": capacity} if provisioned else {}
    indexes = [
        {
            "IndexName": index,
            "KeySchema": [{"AttributeName": f"{index}-pk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            **throughput,
        }
        for index in spec.indexes_gb
    ]
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
            BillingMode=spec.billing_mode,
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
            **throughput,
            Tags=size_tags(table_bytes, index_bytes),
        )


def _put_table_metrics(
    metrics: MetricWriter, name: str, spec: TableSpec, profile: Profile, hours: Sequence[datetime], rng: random.Random
) -> None:
    # Requests follow the region's business day: a fifth of the peak at night, the whole of it at the peak.
    dimensions = [{"Name": "TableName", "Value": name}]
    for hour in hours:
        load = 0.2 + 0.8 * profile.load(hour)
        for metric, peak in ((READ_METRIC, spec.peak_reads), (WRITE_METRIC, spec.peak_writes)):
            total = max(0.0, peak * SECONDS_PER_HOUR * load * rng.uniform(0.85, 1.15))
            metrics.add(NAMESPACE, total_datum(metric, dimensions, hour, total, SAMPLES_PER_HOUR, "Count"))


def _carbonmeter_tables(seeding: RegionSeeding, dynamodb: Any) -> list[str]:
    """CarbonMeter's own tables, when its deployment lives in this account and region (by its settings' names)."""
    settings = seeding.account.clients.settings
    if seeding.region != settings.region:
        return []
    found = []
    for spec in TABLES:
        name = str(getattr(settings, spec.settings_field))
        try:
            dynamodb.describe_table(TableName=name)
        except dynamodb.exceptions.ResourceNotFoundException:
            continue
        found.append(name)
    return found


DEVTOOLS = DynamoDbDevtools()
