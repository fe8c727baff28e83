"""Recommendations read from the stores on moto: what they find, and what a 14-day run reads (its request budget)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.emissions import estimate_all, rollup
from carbonmeter.insights import recommendations as rec
from carbonmeter.models import HOUR, Connection, Service, UsageRecord
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, UsageStore
from carbonmeter.windows import WindowError
from devtools.aws.resources import create_resources

CONNECTION = "acme"
RULES = rec.load_rules()
END = datetime(2026, 11, 30, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1")
DAYS = 2
HOURS = DAYS * 24


def _record(hour: datetime, region: str, service: Service, resource_id: str, resource_type: str, **details: Any):
    return UsageRecord(
        connection_id=CONNECTION,
        account_id="111122223333",
        hour=hour,
        region=region,
        service=service,
        resource_id=resource_id,
        resource_type=resource_type,
        details={"service": service.value, **details},
    )


def _hour_of_usage(hour: datetime) -> list[UsageRecord]:
    """Per region: an m5.large at 50 %, an unattached volume, a Standard bucket, and a Lambda function (never read)."""
    records = []
    for region in REGIONS:
        records += [
            _record(hour, region, Service.EC2, f"i-{region}", "m5.large", vcpus=2, memory_gib=8,
                    cpu_utilization_pct=50.0, architecture="x86_64"),
            _record(hour, region, Service.EBS, f"vol-{region}", "gp3", storage_gb=500.0, state="available"),
            _record(hour, region, Service.S3, f"logs-{region}", "StandardStorage", storage_gb=3000.0),
            _record(hour, region, Service.LAMBDA, f"fn-{region}", "x86_64", memory_mb=512, duration_ms=1000.0,
                    invocations=10.0),
        ]  # fmt: skip
    return records


@pytest.fixture
def clients(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        create_resources(factory, factory.settings)
        ConnectionStore(factory, factory.settings.connections_table).put(
            Connection(
                connection_id=CONNECTION,
                role_arn="arn:aws:iam::111122223333:role/CarbonMeterReadOnly",
                external_id="an-external-id",
                regions=REGIONS,
            )
        )
        yield factory


def _collect_and_calculate(clients: ClientFactory, hours: list[datetime]) -> None:
    usage_store = UsageStore(clients, clients.settings.usage_table)
    emission_store = EmissionStore(clients, clients.settings.emissions_table)
    for hour in hours:
        usage = _hour_of_usage(hour)
        usage_store.replace_hour(CONNECTION, hour, usage)
        records = estimate_all(usage)
        emission_store.replace_hour(CONNECTION, hour, records, rollup(records))


class Reads:
    """The DynamoDB requests made, by table and operation, and the usage items they returned, by service."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.usage_items: Counter[str] = Counter()

    def hook(self, parsed: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        table = (context or {}).get("table", "")
        self.requests[(table, model.name)] += 1
        if model.name == "Query" and table.endswith("usage"):
            for item in parsed.get("Items", []):
                self.usage_items[item["sk"].split("#")[1]] += 1

    @staticmethod
    def remember_table(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["table"] = params.get("TableName", "")


def _counted(settings: Settings) -> tuple[ClientFactory, Reads]:
    reads = Reads()
    hooks = (
        ("before-parameter-build.dynamodb", reads.remember_table),
        ("after-call.dynamodb", reads.hook),
    )
    return ClientFactory(settings=settings, hooks=hooks), reads


def test_a_run_reads_the_connection_the_roll_ups_and_one_query_per_region_hour_of_only_what_the_rules_need(
    clients,
):
    # Given two days of collected and calculated hours in two regions
    hours = [END - HOURS * HOUR + i * HOUR for i in range(HOURS)]
    _collect_and_calculate(clients, hours)
    reader, reads = _counted(clients.settings)
    # When two days of recommendations are asked for
    found = rec.connection_recommendations(
        reader, reader.settings, CONNECTION, END, now=END + timedelta(days=1), days=DAYS
    )
    # Then every resource's change is there, with the region moves apart
    rules = Counter(r.rule for r in found.recommendations)
    assert rules == {rec.GRAVITON_INSTANCE: 2, rec.UNATTACHED_VOLUME: 2, rec.COLDER_STORAGE: 2}
    assert [(r.region, r.resource_type) for r in found.information] == [("eu-west-1", "eu-north-1"),
                                                                        ("us-east-1", "us-west-1")]  # fmt: skip
    assert (found.hours_read, found.hours_wanted) == (HOURS, HOURS)
    # And it read: the connection once, the roll-ups in one page, one usage query per region-hour (EC2 and EBS
    # together) and one per region (S3's latest hour); Lambda's records never
    settings = clients.settings
    assert reads.requests == {
        (settings.connections_table, "GetItem"): 1,
        (settings.emissions_table, "Query"): 1,
        (settings.usage_table, "Query"): HOURS * len(REGIONS) + len(REGIONS),
    }
    assert found.dynamodb_requests == sum(reads.requests.values())
    assert reads.usage_items == {"ec2": HOURS * len(REGIONS), "ebs": HOURS * len(REGIONS), "s3": len(REGIONS)}


def test_a_window_with_fewer_hours_stored_than_wanted_says_so_and_scales_what_it_has(clients):
    stored = RULES.min_measured_hours
    hours = [END - stored * HOUR + i * HOUR for i in range(stored)]
    _collect_and_calculate(clients, hours)
    found = rec.connection_recommendations(clients, clients.settings, CONNECTION, END, now=END)
    assert (found.hours_read, found.hours_wanted) == (stored, 14 * 24)
    volume = next(r for r in found.recommendations if r.rule == rec.UNATTACHED_VOLUME)
    per_hour = rec.total_co2e(
        [r for r in _hour_of_usage(hours[0]) if r.resource_id == volume.resource_id], rec.load_coefficients()
    )
    assert volume.saving_kgco2e_per_month == pytest.approx(per_hour.central * 730)


def test_a_window_ending_in_the_future_is_refused(clients):
    with pytest.raises(WindowError, match="future"):
        rec.connection_recommendations(clients, clients.settings, CONNECTION, END + HOUR, now=END)
