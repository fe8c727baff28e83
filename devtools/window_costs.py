"""The benchmark's collection-window figures: metrics requested and USD a month per 1,000 resources at windows of
1, 6 and 24 hours (``make benchmark``, or ``python -m devtools.window_costs`` alone, about a minute).

A mixed fleet is seeded on an empty embedded AWS and the real collector (``collection.collect``) collects one
window of a settled UTC day at each length, under the connection's assumed role, with every GetMetricData metric
counted as CloudWatch bills it. A month is then that window's metrics times the collections of a month, at the
price the library reads from its data file (``carbonmeter/monitoring.py``): the figure ``connections list`` shows.
The datapoints are seeded days before the day collected, since the emulator's GetMetricData slows with their square;
every query is sent all the same, and GetMetricData bills the metrics asked for, not the datapoints returned.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import boto3

from carbonmeter import monitoring, report
from carbonmeter.aws import ApiCallCounter, ClientFactory, assume_role
from carbonmeter.collection import areas, collect
from carbonmeter.collection_windows import WINDOW_HOURS, collections_per_month
from carbonmeter.models import Connection, hours_between
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES
from carbonmeter.services.ecs import TASK_DEFINITION_SIZES
from carbonmeter.services.instance_types import CATALOGUE
from carbonmeter.settings import Settings
from devtools.aws.server import embedded_aws
from devtools.progress import say
from devtools.seed import seed_fleet

DEFAULT_WINDOWS = (1, 6, 24)
DEFAULT_SIZE = 1_000
DEFAULT_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")
PER_RESOURCES = 1_000
# Far enough before the day collected that none of its queries (S3's reach back a day) returns them.
_SEEDED_BEFORE = timedelta(days=3)

Say = Callable[[str], None]


@dataclass(frozen=True)
class WindowFigures:
    """One collection of one window, and the month it makes."""

    window_hours: int
    resources: int
    get_metric_data_requests: int
    metrics_per_collection: int
    collections_per_month: float
    metrics_per_month: float
    usd_per_month: float

    @property
    def usd_per_month_per_1000_resources(self) -> float:
        return self.usd_per_month * PER_RESOURCES / self.resources if self.resources else math.nan

    @property
    def metrics_per_month_per_1000_resources(self) -> float:
        return self.metrics_per_month * PER_RESOURCES / self.resources if self.resources else math.nan

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self) | {
            "usd_per_month_per_1000_resources": self.usd_per_month_per_1000_resources,
            "metrics_per_month_per_1000_resources": self.metrics_per_month_per_1000_resources,
        }


def settled_day(now: datetime) -> list[datetime]:
    """The hours of the last whole UTC day before ``now``."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return hours_between(today - timedelta(days=1), today)


def measure(
    size: int = DEFAULT_SIZE,
    regions: Sequence[str] = DEFAULT_REGIONS,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    *,
    now: datetime | None = None,
    say: Say = say,
) -> list[WindowFigures]:
    """Seed ``size`` resources over ``regions`` on an empty embedded AWS and collect the first window of the last
    settled day at each of ``windows``."""
    day = settled_day(now or datetime.now(UTC))
    with embedded_aws():
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        say(f"[windows] seeding {size:,} resources over {len(regions)} regions")
        account = seed_fleet(clients, regions, size, [day[0] - _SEEDED_BEFORE])
        connection = Connection(
            connection_id="window-costs",
            role_arn=account.role_arn,
            external_id=account.external_id,
            regions=tuple(regions),
        )
        return [_collect_window(clients, connection, day[:window], say) for window in windows]


def _collect_window(clients: ClientFactory, connection: Connection, hours: list[datetime], say: Say) -> WindowFigures:
    CATALOGUE.clear()  # each collection starts as a cold container does
    TASK_DEFINITION_SIZES.clear()
    counter = ApiCallCounter()
    customer = assume_role(
        clients,
        connection.role_arn,
        connection.external_id,
        clients.settings.role_session_name,
        counter,
        session_actions=READ_ACTIONS,
        session_resources=READ_RESOURCES,
    )
    result = collect(customer, connection, hours, workers=len(areas(connection)))
    if result.failed:
        raise RuntimeError(f"collection failed: {result.failed}")
    window = len(hours)
    metrics = counter.metrics_requested
    resources = len({(resource.region, resource.resource_id) for resource in result.seen})
    say(f"  {window}-hour window: {resources:,} resources, {metrics:,} metrics requested")
    return WindowFigures(
        window_hours=window,
        resources=resources,
        get_metric_data_requests=counter.calls.get("monitoring:GetMetricData", 0),
        metrics_per_collection=metrics,
        collections_per_month=collections_per_month(window, monitoring.prices().hours_per_month),
        metrics_per_month=monitoring.metrics_per_month(metrics, window),
        usd_per_month=monitoring.monthly_usd(metrics, window),
    )


def table(figures: Sequence[WindowFigures]) -> str:
    """Metrics and USD a month per 1,000 resources at each window, with the ratio to hourly against its target."""
    hourly = next((f for f in figures if f.window_hours == 1), None)
    rows = []
    for f in figures:
        ratio = f.metrics_per_month / hourly.metrics_per_month if hourly and hourly.metrics_per_month else math.nan
        target = 1 / f.window_hours
        rows.append(
            [
                f"{f.window_hours} h",
                f"{f.resources:,}",
                f.get_metric_data_requests,
                f"{f.metrics_per_collection:,}",
                f"{f.collections_per_month:,.1f}",
                f"{f.metrics_per_month_per_1000_resources:,.0f}",
                f"{f.usd_per_month_per_1000_resources:.2f}",
                f"1/{1 / ratio:.1f}" if ratio else "n/a",
                f"{ratio / target:.2f}",
            ]
        )
    prices = monitoring.prices()
    heading = (
        "Collection windows: one window collected at each length, a month of its collections (GetMetricData, "
        f"billed to the customer's account; USD {prices.usd_per_1000_metrics} per 1,000 metrics, {prices.region}, "
        f"{prices.as_of}; {prices.hours_per_month:g} hours a month):"
    )
    headers = [
        "window",
        "resources",
        "requests",
        "metrics a collection",
        "collections a month",
        "metrics a month per 1,000 resources",
        "USD a month per 1,000 resources",
        "metrics vs hourly",
        "ratio to target (1/window)",
    ]
    return "\n".join([heading, "", report.table(headers, rows)])


def _windows(value: str) -> list[int]:
    try:
        windows = [int(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated window lengths") from None
    if not windows or any(window not in WINDOW_HOURS for window in windows):
        raise argparse.ArgumentTypeError(f"{value!r}: windows are {', '.join(map(str, WINDOW_HOURS))} hours")
    return windows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.window_costs", description=__doc__)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="resources seeded (default 1000)")
    parser.add_argument("--windows", type=_windows, default=list(DEFAULT_WINDOWS), help="default 1,6,24")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    figures = measure(args.size, windows=args.windows)
    if args.format == "json":
        print(json.dumps([f.as_dict() for f in figures], indent=2))
    else:
        print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
