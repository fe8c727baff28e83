"""What CarbonMeter costs to run, per connection-month: ``python -m devtools.costs`` (docs/deploy.md's table).

Computed from the synthesized stack's own settings (function memory, tables with point-in-time recovery, tracing,
alarms and the metrics they evaluate, dashboards, KMS keys, SQS event sources) and from ``prices.json``: the
published prices with their source and date, and the quantities per connection-hour, measured
(docs/benchmarks.md) or assumed, each saying which.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from carbonmeter import monitoring
from carbonmeter.collection_windows import DEFAULT_WINDOW_HOURS
from carbonmeter.settings import Settings
from devtools.generated import GeneratedSection
from infra.constants import CALCULATOR, COLLECTOR, SCHEDULER

PRICES_FILE = Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730
SIZES = (10, 100, 1000)
CARBONMETER = "CarbonMeter's account"
CUSTOMER = "customer's account"
# docs/deploy.md holds the table between these lines.
TABLE_BEGIN = "<!-- cost table: written by `python -m devtools.costs --write docs/deploy.md`; do not edit by hand -->"
TABLE_END = "<!-- end of cost table -->"
_TABLE = GeneratedSection(TABLE_BEGIN, TABLE_END)
_KB_PER_GB = 1_000_000
_MB_PER_GB = 1024
_SQS_QUEUES_PER_CONNECTION_HOUR = 2  # the collect and the calculate job

Template = Mapping[str, Any]


@cache
def price_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    return data


def _price(name: str) -> float:
    return float(price_data()["prices"][name]["usd"])


def _quantity(name: str) -> Any:
    return price_data()["quantities"][name]


@dataclass(frozen=True)
class StackFacts:
    """What the synthesized stack says about what it bills for."""

    alarm_metrics: int
    alarms: int
    dashboards: int
    kms_keys: int
    tables_with_pitr: int
    sqs_event_sources: int
    traced_functions: int

    @classmethod
    def of(cls, template: Template) -> StackFacts:
        resources = template["Resources"].values()

        def of_type(kind: str) -> list[Mapping[str, Any]]:
            return [r.get("Properties", {}) for r in resources if r["Type"] == kind]

        alarms = of_type("AWS::CloudWatch::Alarm")
        return cls(
            alarm_metrics=sum(_metrics_evaluated(alarm) for alarm in alarms),
            alarms=len(alarms),
            dashboards=len(of_type("AWS::CloudWatch::Dashboard")),
            kms_keys=len(of_type("AWS::KMS::Key")),
            tables_with_pitr=sum(
                1 for table in of_type("AWS::DynamoDB::Table") + of_type("AWS::DynamoDB::GlobalTable") if _pitr(table)
            ),
            sqs_event_sources=len(of_type("AWS::Lambda::EventSourceMapping")),
            traced_functions=sum(
                1 for f in of_type("AWS::Lambda::Function") if f.get("TracingConfig", {}).get("Mode") == "Active"
            ),
        )


def _pitr(table: Mapping[str, Any]) -> bool:
    # A TableV2 synthesizes to a global table, whose settings are per replica (the stack has one).
    specs = [table, *table.get("Replicas", ())]
    return any(spec.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") for spec in specs)


def _metrics_evaluated(alarm: Mapping[str, Any]) -> int:
    # A metric-math alarm is billed per metric it reads; a plain one reads one.
    queries = alarm.get("Metrics")
    return sum(1 for query in queries if "MetricStat" in query) if queries else 1


def collector_seconds(resources: int) -> float:
    """The collector's wall time for a connection-hour, from the benchmark's points (linear between them)."""
    measured = _quantity("collector_seconds")
    points = list(zip(measured["at_resources"], measured["seconds"], strict=True))
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if resources <= x1 or (x1, y1) == points[-1]:
            return max(0.0, y0 + (y1 - y0) * (resources - x0) / (x1 - x0))
    raise AssertionError("unreachable")


def _lambda_usd(memory_mb: int, seconds: float) -> float:
    return memory_mb / _MB_PER_GB * seconds * _price("lambda_arm64_gb_second") + _price("lambda_request")


def connection_month(
    resources: int, facts: StackFacts, window_hours: int = DEFAULT_WINDOW_HOURS
) -> dict[str, tuple[str, float]]:
    """USD a month for one connection of ``resources`` resources, per item, with who pays it; GetMetricData at a
    collection window of ``window_hours``, priced by the library (``carbonmeter/data/cloudwatch-prices.json``)."""
    hours = HOURS_PER_MONTH
    calculator = _quantity("calculator_seconds")
    calculator_seconds = calculator["base"] + calculator["per_resource"] * resources
    lambda_usd = hours * (
        _lambda_usd(COLLECTOR.memory_mb, collector_seconds(resources))
        + _lambda_usd(CALCULATOR.memory_mb, calculator_seconds)
    )
    pages_usd = hours * _scheduler_page_usd_per_connection()
    usage_kb, emission_kb = _quantity("usage_item_kb")["value"], _quantity("emission_item_kb")["value"]
    rollups = _quantity("rollups_per_hour")["value"]
    # One write unit per KB (rounded up) for each usage and emission record, roll-up and the hour's status.
    writes = resources * (_units(usage_kb, 1.0) + _units(emission_kb, 1.0)) + rollups + 2
    # The calculator reads the hour's usage back: eventually consistent, half a read unit per 4 KB.
    reads = 0.5 * _units(resources * usage_kb, 4.0)
    # The anomaly check writes its hour's check, one per roll-up series, and reads the stored checks its model
    # needs: one BatchGetItem, strongly consistent, each item a read unit per 4 KB.
    check_kb = rollups * _quantity("anomaly_check_kb_per_series")["value"]
    writes += _units(check_kb, 1.0)
    reads += _quantity("anomaly_checks_read_per_hour")["value"] * _units(check_kb, 4.0)
    requests_usd = hours * (
        writes * _price("dynamodb_write_request_unit") + reads * _price("dynamodb_read_request_unit")
    )
    stored_gb = hours * (resources * (usage_kb + emission_kb) + rollups * emission_kb) / _KB_PER_GB
    pitr = _price("dynamodb_pitr_gb_month") if facts.tables_with_pitr else 0.0
    storage_usd = stored_gb * (_price("dynamodb_storage_gb_month") + pitr)
    sqs_usd = hours * _SQS_QUEUES_PER_CONNECTION_HOUR * _quantity("sqs_requests_per_message")["value"]
    sqs_usd *= _price("sqs_request")
    # The collector and the calculator each record a trace per invocation when tracing is active.
    traces = hours * 2 if facts.traced_functions else 0
    # GetMetricData: the library's own figure (what `connections list` shows), at the deployment's window.
    metrics_per_collection = resources * _quantity("metrics_per_resource")["value"]
    return {
        "Lambda: the scheduler's page of the connection": (CARBONMETER, pages_usd),
        "Lambda: collector and calculator": (CARBONMETER, lambda_usd),
        "DynamoDB on-demand requests": (CARBONMETER, requests_usd),
        "DynamoDB storage and PITR of the month's records (each month they are kept)": (CARBONMETER, storage_usd),
        "SQS requests": (CARBONMETER, sqs_usd),
        "X-Ray traces": (CARBONMETER, traces * _price("xray_trace_recorded")),
        "CloudWatch GetMetricData": (CUSTOMER, monitoring.monthly_usd(metrics_per_collection, window_hours)),
    }


def _scheduler_page_usd_per_connection() -> float:
    """A connection's share of the scheduler's page that plans it: its CPU, and the invocation shared by a page."""
    per_page = Settings.model_fields["scheduler_page_connections"].default
    page_seconds = per_page * _quantity("scheduler_page_seconds_per_connection")["value"]
    return _lambda_usd(SCHEDULER.memory_mb, page_seconds) / per_page


def _units(kb: float, unit_kb: float) -> float:
    return float(-(-kb // unit_kb))


def deployment_month(facts: StackFacts) -> dict[str, float]:
    """USD a month the deployment costs whatever its connections (CarbonMeter's account)."""
    idle_polls = facts.sqs_event_sources * _quantity("sqs_idle_polls_per_queue_month")["value"]
    return {
        f"CloudWatch alarms ({facts.alarms}, evaluating {facts.alarm_metrics} metrics)": facts.alarm_metrics
        * _price("alarm_metric_month"),
        f"CloudWatch dashboard ({facts.dashboards})": facts.dashboards * _price("dashboard_month"),
        f"KMS customer-managed key ({facts.kms_keys})": facts.kms_keys * _price("kms_key_month"),
        "Lambda: the hourly scheduler": HOURS_PER_MONTH
        * _lambda_usd(SCHEDULER.memory_mb, _quantity("scheduler_seconds")["value"]),
        f"SQS: Lambda's pollers of {facts.sqs_event_sources} queues, idle or not": idle_polls * _price("sqs_request"),
        "X-Ray: the scheduler's traces": (HOURS_PER_MONTH * _price("xray_trace_recorded"))
        if facts.traced_functions
        else 0.0,
    }


def markdown(template: Template, sizes: Sequence[int] = SIZES) -> str:
    """docs/deploy.md's tables: per connection-month at each size, and the deployment's own month."""
    facts = StackFacts.of(template)
    months = {size: connection_month(size, facts) for size in sizes}
    items = list(months[sizes[0]])
    head = " | ".join(f"{size:,} resources" for size in sizes)
    lines = [f"| per connection-month | paid in the | {head} |", "| --- | --- |" + " ---: |" * len(sizes)]
    for item in items:
        who = months[sizes[0]][item][0]
        cells = " | ".join(_usd(months[size][item][1]) for size in sizes)
        lines.append(f"| {item} | {who} | {cells} |")
    for who in (CARBONMETER, CUSTOMER):
        cells = " | ".join(_usd(sum(usd for w, usd in months[size].values() if w == who)) for size in sizes)
        lines.append(f"| **total, {who}** | | {cells} |")
    fixed = deployment_month(facts)
    lines += ["", "| per deployment-month, whatever the connections (CarbonMeter's account) | USD |", "| --- | ---: |"]
    lines += [f"| {item} | {_usd(usd)} |" for item, usd in fixed.items()]
    lines.append(f"| **total** | {_usd(sum(fixed.values()))} |")
    data = price_data()
    lines += [
        "",
        f"Prices: {data['region']}, on demand, no free tier ({data['prices_as_of']}; sources in "
        "`devtools/costs/prices.json`, with every quantity assumed or measured). "
        f"A month is {HOURS_PER_MONTH} hours; a connection is one account, over the regions it has.",
    ]
    return "\n".join(lines) + "\n"


def _usd(value: float) -> str:
    if 0 < value < 0.0005:
        return "< 0.001"  # counted, and less than the table's last digit: not a zero
    return f"{value:,.2f}" if value >= 0.995 else f"{value:.3f}"


def table_in(document: str) -> str:
    """The table as docs/deploy.md holds it, between the two marker lines."""
    return _TABLE.read(document)


def write_table(path: Path, table: str) -> None:
    _TABLE.write(path, table)
