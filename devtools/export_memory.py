"""The benchmark's export figures: the peak memory and rate of exporting a year of one connection's hours.

A year of hourly roll-ups (of the services and regions given) is written to an embedded AWS, as a year of
hourly runs would leave it; then ``export --format csv --granularity hour --by service`` runs through the same
use case and presenter as the CLI, its lines counted and dropped, while ``tracemalloc`` follows every allocation.
The embedded AWS runs in a process of its own, so that the peak is the export's alone (and tracing every
allocation does not slow the emulator down too).
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from carbonmeter import keys
from carbonmeter.aws import ClientFactory
from carbonmeter.insights import export
from carbonmeter.models import HOUR, Connection, Rollup, Service, hours_between
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.period_reads import benchmark_rollups

CONNECTION = "benchmark"
_ROLE = "arn:aws:iam::123456789012:role/CarbonMeterReadOnly"


@dataclass(frozen=True)
class ExportFigures:
    hours: int
    groups_per_hour: int
    items_stored: int
    rows: int
    csv_bytes: int
    seconds: float
    peak_mib: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


Group = tuple[str, Service]
# The emulator answers a few hundred rows a second: one group keeps a year to minutes (a page holds ~2,500 items
# whatever the groups, so the peak is a page's, see docs/benchmarks.md).
DEFAULT_GROUPS: tuple[Group, ...] = (("us-east-1", Service.EC2),)


def year_export(
    year_start: datetime, groups: Sequence[Group] = DEFAULT_GROUPS, say: Callable[[str], None] = lambda _: None
) -> ExportFigures:
    """Store a year of hourly roll-ups on an embedded AWS, then export it by hour and service, measured."""
    return window_export(year_start, year_start.replace(year=year_start.year + 1), groups, say)


def window_export(
    year_start: datetime, year_end: datetime, groups: Sequence[Group], say: Callable[[str], None] = lambda _: None
) -> ExportFigures:
    """``year_export`` over any window of whole hours (a shorter one for the tests)."""
    with _embedded_aws_apart() as endpoint:
        clients = ClientFactory(settings=Settings(region="us-east-1", endpoint_url=endpoint))
        settings = create_resources(clients, clients.settings)
        ConnectionStore(clients, settings.connections_table).put(
            Connection(
                connection_id=CONNECTION,
                role_arn=_ROLE,
                external_id="benchmark",
                regions=tuple(sorted({region for region, _ in groups})),
            )
        )
        items = _store_year(clients, settings, year_start, year_end, groups, say)
        say(f"  exporting {int((year_end - year_start) / HOUR):,} hours by service as CSV")
        return _measure(clients, settings, (year_start, year_end), len(groups), items)


@contextmanager
def _embedded_aws_apart() -> Iterator[str]:
    """An embedded AWS in a child process, up until the context ends; yields its endpoint."""
    child = subprocess.Popen(
        [sys.executable, "-m", "devtools.export_memory", "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        endpoint = child.stdout.readline().strip()
        if not endpoint.startswith("http://"):
            raise RuntimeError(f"the embedded AWS did not start (said {endpoint!r})")
        yield endpoint
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def serve() -> None:
    """The child's side: an embedded AWS until stdin closes."""
    with embedded_aws() as endpoint:
        print(endpoint, flush=True)
        sys.stdin.read()


def _store_year(
    clients: ClientFactory,
    settings: Settings,
    start: datetime,
    end: datetime,
    groups: Sequence[Group],
    say: Callable[[str], None],
) -> int:
    # Straight into the table (BatchWriteItem, 25 items a request): the calculator's per-hour replace would
    # first query every hour, which only slows the seeding down.
    table = clients.resource("dynamodb").Table(settings.emissions_table)
    written = 0
    with table.batch_writer() as batch:
        for hour in hours_between(start, end):
            for rollup in benchmark_rollups(hour, groups, {"cpu_default": 2}):
                item = _item(rollup, keys.rollup_key(hour, rollup.region, rollup.service))
                batch.put_item(Item=item)
                written += 1
            if hour.hour == 0 and hour.day == 1:
                say(f"  storing {hour:%Y-%m}'s hourly roll-ups ({written:,} items so far)")
    return written


def _item(rollup: Rollup, sk: str) -> dict[str, object]:
    document = rollup.model_dump(mode="json", exclude_none=True)
    numbers = {name: Decimal(str(value)) for name, value in document.items() if isinstance(value, float)}
    return {**document, **numbers, "pk": CONNECTION, "sk": sk}


def _measure(
    clients: ClientFactory, settings: Settings, window: tuple[datetime, datetime], groups: int, items: int
) -> ExportFigures:
    hours = int((window[1] - window[0]) / HOUR)
    rows = csv_bytes = 0
    # One hour first, untraced: the clients, botocore's service models and the CSV writer are made once per
    # process, whatever the export's length, and are not what the peak is about.
    warm_up = (window[0], window[0] + HOUR)
    for _ in export.csv_lines(
        export.export_rows(clients, settings, CONNECTION, warm_up, Granularity.HOUR, GroupBy.SERVICE, window[1] + HOUR)
    ):
        pass
    tracemalloc.start()
    started = time.perf_counter()
    try:
        found = export.export_rows(
            clients, settings, CONNECTION, window, Granularity.HOUR, GroupBy.SERVICE, window[1] + HOUR
        )
        for line in export.csv_lines(found):
            rows += 1
            csv_bytes += len(line.encode())
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return ExportFigures(
        hours=hours,
        groups_per_hour=groups,
        items_stored=items,
        rows=rows - 1,  # the header
        csv_bytes=csv_bytes,
        seconds=seconds,
        peak_mib=peak / 2**20,
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit("usage: python -m devtools.export_memory --serve (the benchmark starts it)")
    serve()
