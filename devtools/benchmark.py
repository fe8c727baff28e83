"""``make benchmark``: GetMetricData batching and collector wall time for fleets of growing size.

For each fleet size an empty embedded AWS (moto's server on 127.0.0.1) is seeded with a
mixed fleet spread over several regions and the real collector collects one connection-hour
from it, while every answer is recorded. The same collection then runs again on the recorded
answers, so that the emulator's own work (large in moto, which shares this process's CPU)
does not hide the collector's: once as is, then with a fixed simulated latency on every AWS
request, with the regions in parallel and one after another. The figures printed per fleet
are the GetMetricData requests made against the ceil(Q/500) minimum, the metrics requested
(what CloudWatch bills), the GetMetricStatistics requests the same data would take, and the
wall times.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import platform
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import boto3
import moto
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from carbonmeter import cloudwatch, keys, report
from carbonmeter.aws import ApiCallCounter, ClientFactory, EventHook, assume_role
from carbonmeter.cloudwatch import MAX_QUERIES_PER_REQUEST, STATISTICS_PER_BILLED_METRIC, MetricRequest
from carbonmeter.collection import RegionUsage, api_region, areas, collect, collect_region
from carbonmeter.gc_pause import gc_paused
from carbonmeter.models import Connection, UsageRecord, hour_key, previous_whole_hour
from carbonmeter.services import COLLECTORS, READ_ACTIONS, READ_MEMBERS, READ_RESOURCES
from carbonmeter.services.ecs import TASK_DEFINITION_SIZES
from carbonmeter.services.instance_types import CATALOGUE
from carbonmeter.settings import Settings
from devtools import collector_before, collector_cpu, export_memory, period_reads, window_costs
from devtools.aws.server import embedded_aws
from devtools.collector_before import BeforeRun
from devtools.progress import say
from devtools.seed import DemoAccount, seed_fleet

DEFAULT_SIZES: tuple[int, ...] = (100, 1_000, 10_000)
DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")
DEFAULT_LATENCY_MS = 50.0
# moto's GetMetricData compares every query with every datapoint stored in the window, so its
# cost grows with the square of the fleet; above this size the datapoints are seeded outside
# the hour collected (see Fleet.datapoints_in_window).
DEFAULT_DATAPOINTS_LIMIT = 1_000
# Far enough back that no query of the collected hour reaches it (S3's window is two days).
_OUT_OF_WINDOW = timedelta(days=3)
CONNECTION_ID = "benchmark"
# Credential=<key>/<date>/<region>/<service>/aws4_request
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/")
# GetMetricStatistics returns at most this many datapoints a call.
MAX_DATAPOINTS_PER_STATISTICS_CALL = 1440

Say = Callable[[str], None]
P = ParamSpec("P")
T = TypeVar("T")


def _quiet(_: str) -> None:
    return None


class SimulatedLatency:
    """Sleeps before every HTTP request a client sends, as a network round trip would take.

    Registered on ``before-send.*`` rather than ``before-send``: botocore calls handlers of the
    more specific event first, so this one runs before an in-process moto, which answers there.
    """

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must not be negative")
        self.seconds = seconds
        self._lock = threading.Lock()
        self.requests = 0

    def hooks(self) -> list[EventHook]:
        return [("before-send.*", self._wait)]

    def _wait(self, **_: Any) -> None:
        with self._lock:
            self.requests += 1
        if self.seconds:
            time.sleep(self.seconds)


class GetMetricDataObserver:
    """What the collector actually sent to GetMetricData and what came back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queries_sent = 0
        self.largest_request = 0
        self.series_with_data = 0

    def hooks(self) -> list[EventHook]:
        return [
            ("before-parameter-build.cloudwatch.GetMetricData", self._on_request),
            ("after-call.cloudwatch.GetMetricData", self._on_response),
        ]

    def _on_request(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("NextToken"):
            return  # a later page of a request already counted
        queries = len(params.get("MetricDataQueries", []))
        with self._lock:
            self.queries_sent += queries
            self.largest_request = max(self.largest_request, queries)

    def _on_response(self, parsed: dict[str, Any], **_: Any) -> None:
        with_data = sum(1 for result in parsed.get("MetricDataResults", []) if result.get("Values"))
        with self._lock:
            self.series_with_data += with_data


_RequestKey = tuple[str, str, str, str, bytes]


class _RawBody:
    """The raw stream botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class RecordedAnswers:
    """Every answer AWS gave during one collection, replayed for the same requests later.

    Requests are told apart by region, operation, URL and body: pagination tokens sit in the
    body, so a replayed collection walks the same pages. Replaying needs the emulator to be
    reached over HTTP (``embedded_aws``): an in-process ``mock_aws`` would still answer too.
    """

    def __init__(self) -> None:
        self._answers: dict[_RequestKey, tuple[int, dict[str, str], bytes]] = {}
        self._lock = threading.Lock()
        self._pending = threading.local()

    def __len__(self) -> int:
        return len(self._answers)

    def recording_hooks(self) -> list[EventHook]:
        return [("before-send.*", self._remember_request), ("before-parse.*", self._record)]

    def replay_hooks(self) -> list[EventHook]:
        return [("before-send.*", self._replay)]

    def _remember_request(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        self._pending.key = _request_key(request, event_name)

    def _record(self, response_dict: dict[str, Any], **_: Any) -> None:
        answer = (response_dict["status_code"], dict(response_dict["headers"]), bytes(response_dict["body"]))
        with self._lock:
            self._answers.setdefault(self._pending.key, answer)

    def _replay(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse:
        key = _request_key(request, event_name)
        with self._lock:
            answer = self._answers.get(key)
        if answer is None:
            raise BenchmarkError(f"no recorded answer for {event_name} in {key[0]}: the collection asked something new")
        status, headers, body = answer
        return AWSResponse(request.url, status, headers, _RawBody(body))


def _request_key(request: AWSPreparedRequest, event_name: str) -> _RequestKey:
    body = request.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        # Reading a streamed body here would leave nothing for the request itself.
        raise BenchmarkError(f"{event_name} sends a streamed body, which cannot be recorded")
    return (_signed_region(request), event_name, request.method or "", request.url or "", body)


def _signed_region(request: AWSPreparedRequest) -> str:
    """The region of a SigV4 request, from its credential scope (every region shares the emulator's URL)."""
    authorization = request.headers.get("Authorization", "")
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    match = _CREDENTIAL_SCOPE.search(authorization)
    if match is None:
        raise BenchmarkError("a request without a SigV4 credential scope cannot be recorded")
    return match.group(1)


class BenchmarkError(RuntimeError):
    """The benchmark could not measure what it set out to."""


@dataclass(frozen=True)
class Fleet:
    """A seeded account and the connection that collects it.

    ``datapoints_in_window`` False means the metrics were written three days before the hour
    collected: every metric exists (S3 storage classes are still found through ListMetrics) and
    every query is still sent, but the series come back empty.
    """

    size: int
    account: DemoAccount
    connection: Connection
    hours: tuple[datetime, ...]
    datapoints_in_window: bool


def build_fleet(
    clients: ClientFactory,
    size: int,
    regions: Sequence[str],
    hour: datetime,
    *,
    datapoints_in_window: bool = True,
) -> Fleet:
    """Seed ``size`` metric-bearing resources (EC2 with their root EBS volumes, Lambda, S3, RDS) over ``regions``."""
    seeded_hour = hour if datapoints_in_window else hour - _OUT_OF_WINDOW
    account = seed_fleet(clients, regions, size, [seeded_hour])
    connection = Connection(
        connection_id=CONNECTION_ID,
        role_arn=account.role_arn,
        external_id=account.external_id,
        regions=tuple(regions),
    )
    return Fleet(size, account, connection, (hour,), datapoints_in_window)


@dataclass(frozen=True)
class MetricPlanFigures:
    """The queries one connection-hour needs, found independently of the collector's planner."""

    queries: int
    # (region, period, window) groups: queries of one request must share region, window and period.
    groups: int
    largest_group: int
    minimum_requests: int
    statistics_baseline_requests: int


def metric_requests_by_region(clients: ClientFactory, fleet: Fleet) -> dict[str, list[MetricRequest]]:
    """Every metric request the collector's services ask for, region by region (and ``global`` once, for the
    global services), from a fresh discovery."""
    requests: dict[str, list[MetricRequest]] = {}
    for region, collectors in areas(fleet.connection).items():
        resources = [r for collector in collectors for r in collector.discover(clients, api_region(region))]
        requests[region] = [
            request
            for resource in resources
            for hour in fleet.hours
            for request in COLLECTORS[resource.service].metric_requests(resource, hour)
        ]
    return requests


def minimum_requests(requests: Iterable[MetricRequest]) -> int:
    """GetMetricData calls (first pages) needed: the sum over (period, window) groups of ceil(Q/500)."""
    return len(cloudwatch.plan(requests))


def statistics_baseline_requests(requests: Iterable[MetricRequest]) -> int:
    """GetMetricStatistics calls the same data would take.

    One call per metric, dimensions, window and period carries up to five statistics and at
    most 1,440 datapoints, so longer windows need several calls.
    """
    stats_per_call: Counter[tuple[str, str, tuple[tuple[str, str], ...], int, datetime, datetime]] = Counter()
    for request in set(requests):
        stats_per_call[
            (request.namespace, request.metric_name, request.dimensions, request.period, request.start, request.end)
        ] += 1
    total = 0
    for (*_, period, start, end), stats in stats_per_call.items():
        datapoints = math.ceil((end - start).total_seconds() / period)
        total += math.ceil(stats / STATISTICS_PER_BILLED_METRIC) * max(
            1, math.ceil(datapoints / MAX_DATAPOINTS_PER_STATISTICS_CALL)
        )
    return total


def plan_figures(requests_by_region: dict[str, list[MetricRequest]]) -> MetricPlanFigures:
    """Q per (region, period, window) group and the sum of ceil(Q/500) over the groups."""
    sizes: Counter[tuple[str, int, datetime, datetime]] = Counter()
    for region, requests in requests_by_region.items():
        for request in set(requests):
            sizes[(region, request.period, request.start, request.end)] += 1
    return MetricPlanFigures(
        queries=sum(sizes.values()),
        groups=len(sizes),
        largest_group=max(sizes.values(), default=0),
        minimum_requests=sum(math.ceil(q / MAX_QUERIES_PER_REQUEST) for q in sizes.values()),
        statistics_baseline_requests=sum(
            statistics_baseline_requests(requests) for requests in requests_by_region.values()
        ),
    )


@dataclass(frozen=True)
class CollectionRun:
    """One timed ``collect()`` of the fleet's connection-hour."""

    workers: int
    latency_s: float
    seconds: float
    # The process's CPU seconds meanwhile (every thread's): the collector's own work, whatever else the machine ran.
    cpu_seconds: float
    records: tuple[UsageRecord, ...]
    resources: int
    calls: dict[str, int]
    total_calls: int
    requests_sent: int
    metrics_requested: int
    get_metric_data: GetMetricDataObserver

    @property
    def get_metric_data_calls(self) -> int:
        return self.calls.get("monitoring:GetMetricData", 0)


def _fleet_customer(base: ClientFactory, fleet: Fleet, counter: ApiCallCounter | None = None) -> ClientFactory:
    """The fleet's account, assumed as the collector assumes a connection's role (ExternalId, session policy)."""
    account = fleet.account
    return assume_role(
        base,
        account.role_arn,
        account.external_id,
        base.settings.role_session_name,
        counter,
        session_actions=READ_ACTIONS,
        session_resources=READ_RESOURCES,
        read_members=READ_MEMBERS,
    )


def run_collection(
    clients: ClientFactory,
    fleet: Fleet,
    *,
    workers: int,
    latency_s: float = 0.0,
    hooks: Iterable[EventHook] = (),
    say: Say = _quiet,
) -> CollectionRun:
    """Assume the fleet's role as the collector does and time ``collect()`` for its hour.

    Only ``collect()`` is timed; the role is assumed beforehand, as it is once per job.
    ``hooks`` (recording or replaying answers) run after the latency has been waited.
    Each run starts as a cold container does, with no instance type described yet, so that runs compare alike.
    """
    CATALOGUE.clear()
    TASK_DEFINITION_SIZES.clear()
    latency = SimulatedLatency(latency_s)
    observer = GetMetricDataObserver()
    base = ClientFactory(
        clients.session, settings=clients.settings, hooks=[*latency.hooks(), *observer.hooks(), *hooks]
    )
    counter = ApiCallCounter()
    customer = _fleet_customer(base, fleet, counter)
    requests_before = latency.requests
    found: list[RegionUsage] = []

    def progress(region: RegionUsage) -> None:
        found.append(region)
        say(f"    {region.region}: {region.resources:,} resources, {len(region.records):,} records")

    started, cpu_started = time.perf_counter(), time.process_time()
    result = collect(customer, fleet.connection, fleet.hours, workers=workers, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if result.failed:
        raise RuntimeError(f"collection failed: {result.failed}")
    records = result.records
    return CollectionRun(
        workers=workers,
        latency_s=latency_s,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        records=tuple(sorted(records, key=keys.resource_key)),
        resources=sum(region.resources for region in found),
        calls=counter.calls,
        total_calls=counter.total_calls,
        requests_sent=latency.requests - requests_before,
        metrics_requested=counter.metrics_requested,
        get_metric_data=observer,
    )


@dataclass(frozen=True)
class FleetFigures:
    """Everything the benchmark prints for one fleet size."""

    size: int
    regions: int
    datapoints_in_window: bool
    resources_found: int
    usage_records: int
    queries: int
    groups: int
    largest_group: int
    minimum_requests: int
    get_metric_data_requests: int
    queries_sent: int
    largest_request: int
    series_with_data: int
    metrics_requested: int
    statistics_baseline_requests: int
    api_calls: int
    calls: dict[str, int]
    http_requests: int
    latency_ms: float
    workers: int
    emulator_seconds: float
    client_seconds: float
    parallel_seconds: float
    sequential_seconds: float
    same_records: bool
    seed_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    # The cProfile of a client-only collection (``--profile-collector``), as printed.
    collector_profile: str = ""

    @property
    def speedup(self) -> float:
        return self.sequential_seconds / self.parallel_seconds if self.parallel_seconds else math.nan

    @property
    def serial_latency_seconds(self) -> float:
        """The latency a client that sends every request one after another must wait."""
        return self.http_requests * self.latency_ms / 1000

    @property
    def get_metric_data_usd_per_hour(self) -> float:
        return report.cloudwatch_cost(self.metrics_requested)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {
            "speedup": self.speedup,
            "serial_latency_seconds": self.serial_latency_seconds,
            "get_metric_data_usd_per_hour": self.get_metric_data_usd_per_hour,
        }


def profile_collection(clients: ClientFactory, fleet: Fleet, answers: RecordedAnswers) -> collector_cpu.ProfileFigures:
    """cProfile of one client-only collection on the recorded answers.

    cProfile sees one thread only, so the areas are collected here one after another with ``collect_region``, the
    work each of ``collect()``'s threads does, with the garbage collector paused as ``collect()`` pauses it.
    """
    CATALOGUE.clear()
    TASK_DEFINITION_SIZES.clear()
    base = ClientFactory(clients.session, settings=clients.settings, hooks=answers.replay_hooks())
    customer = _fleet_customer(base, fleet)

    def run() -> None:
        with gc_paused:
            for area, collectors in areas(fleet.connection).items():
                collect_region(customer, area, collectors, fleet.connection, fleet.hours)

    return collector_cpu.profile(run)


def measure_fleet(
    clients: ClientFactory, fleet: Fleet, latency_s: float, say: Say = _quiet, *, profile: bool = False
) -> FleetFigures:
    """Collect ``fleet``'s hour from the emulator, then from its recorded answers with and without latency."""
    workers = len(areas(fleet.connection))  # the regions, and ``global`` when a global service is metered
    answers = RecordedAnswers()
    say(f"  collecting from the emulator, {workers} regions in parallel, recording its answers")
    emulator = run_collection(clients, fleet, workers=workers, hooks=answers.recording_hooks(), say=say)
    replayed = ClientFactory(clients.session, settings=clients.settings, hooks=answers.replay_hooks())
    plan = plan_figures(metric_requests_by_region(replayed, fleet))
    say(f"  collecting {len(answers):,} recorded answers, {workers} regions in parallel, no latency")
    client = run_collection(clients, fleet, workers=workers, hooks=answers.replay_hooks(), say=say)
    say(f"  collecting recorded answers with {latency_s * 1000:g} ms per request, {workers} regions in parallel")
    parallel = run_collection(
        clients, fleet, workers=workers, latency_s=latency_s, hooks=answers.replay_hooks(), say=say
    )
    say(f"  collecting recorded answers with {latency_s * 1000:g} ms per request, one region after another")
    sequential = run_collection(clients, fleet, workers=1, latency_s=latency_s, hooks=answers.replay_hooks(), say=say)
    profiled = ""
    if profile:
        say("  profiling one collection of the recorded answers (cProfile)")
        profiled = collector_cpu.profile_table(fleet.size, profile_collection(clients, fleet, answers))
    observed = emulator.get_metric_data
    return FleetFigures(
        size=fleet.size,
        regions=len(fleet.connection.regions),
        datapoints_in_window=fleet.datapoints_in_window,
        resources_found=emulator.resources,
        usage_records=len(emulator.records),
        queries=plan.queries,
        groups=plan.groups,
        largest_group=plan.largest_group,
        minimum_requests=plan.minimum_requests,
        get_metric_data_requests=emulator.get_metric_data_calls,
        queries_sent=observed.queries_sent,
        largest_request=observed.largest_request,
        series_with_data=observed.series_with_data,
        metrics_requested=emulator.metrics_requested,
        statistics_baseline_requests=plan.statistics_baseline_requests,
        api_calls=emulator.total_calls,
        calls=emulator.calls,
        http_requests=parallel.requests_sent,
        latency_ms=latency_s * 1000,
        workers=workers,
        emulator_seconds=emulator.seconds,
        client_seconds=client.seconds,
        parallel_seconds=parallel.seconds,
        sequential_seconds=sequential.seconds,
        same_records=emulator.records == client.records == parallel.records == sequential.records,
        client_cpu_seconds=client.cpu_seconds,
        collector_profile=profiled,
    )


def benchmark_size(
    size: int,
    regions: Sequence[str],
    hour: datetime,
    latency_s: float,
    *,
    datapoints_in_window: bool = True,
    say: Say = _quiet,
    profile: bool = False,
) -> FleetFigures:
    """One fleet size end to end on its own, empty, embedded AWS."""
    with embedded_aws():
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        where = "in the hour" if datapoints_in_window else f"{_OUT_OF_WINDOW.days} days before the hour"
        say(f"[{size:,}] seeding {size:,} resources over {len(regions)} regions, datapoints {where}")
        started = time.perf_counter()
        fleet = build_fleet(clients, size, regions, hour, datapoints_in_window=datapoints_in_window)
        seed_seconds = time.perf_counter() - started
        account = fleet.account
        say(f"  seeded {account.count():,} resources and {account.metric_datums:,} datums in {seed_seconds:.1f}s")
        figures = measure_fleet(clients, fleet, latency_s, say, profile=profile)
    return dataclasses.replace(figures, seed_seconds=seed_seconds)


def in_own_interpreter(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)`` in a fresh interpreter of its own (spawned), its progress on this one's stderr.

    The collector of before is measured by its own benchmark in a fresh process, so each fleet is measured as that
    one is, with nothing left in the process by the fleets measured before it.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(work, *args, **kwargs).result()


# --- output ----------------------------------------------------------------------------------------


def batching_table(results: Iterable[FleetFigures]) -> str:
    rows = [
        [
            f"{r.size:,}",
            f"{r.resources_found:,}",
            f"{r.queries:,}",
            r.groups,
            r.get_metric_data_requests,
            r.minimum_requests,
            r.largest_request,
            f"{r.metrics_requested:,}",
            f"{r.series_with_data:,}",
            f"{r.statistics_baseline_requests:,}",
            r.api_calls,
            f"{r.get_metric_data_usd_per_hour:.4f}",
        ]
        for r in results
    ]
    headers = [
        "fleet",
        "resources found",
        "queries Q",
        "groups",
        "GetMetricData requests",
        "minimum sum ceil(Q/500)",
        "largest request",
        "metrics requested",
        "series with data",
        "GetMetricStatistics baseline",
        "API calls",
        "USD/hour",
    ]
    return report.table(headers, rows)


def timing_table(results: Iterable[FleetFigures]) -> str:
    rows = [
        [
            f"{r.size:,}",
            r.regions,
            r.http_requests,
            f"{r.latency_ms:g}",
            f"{r.emulator_seconds:.2f}",
            f"{r.client_seconds:.2f}",
            f"{r.serial_latency_seconds:.2f}",
            f"{r.parallel_seconds:.2f}",
            f"{r.sequential_seconds:.2f}",
            f"{r.speedup:.2f}x",
            "yes" if r.same_records else "NO",
        ]
        for r in results
    ]
    headers = [
        "fleet",
        "regions",
        "requests",
        "latency ms",
        "emulator s",
        "client only s",
        "requests x latency s",
        "parallel s",
        "sequential s",
        "speed-up",
        "same records",
    ]
    return report.table(headers, rows)


def render_table(results: Sequence[FleetFigures], parameters: dict[str, Any]) -> str:
    workers = results[0].workers if results else 0
    return "\n".join(
        [
            "GetMetricData batching, one connection-hour (requests counted by ApiCallCounter):",
            "",
            batching_table(results),
            "",
            "collect() wall time: against the emulator (answers recorded), then on the recorded answers: "
            f"as is (client only), and with {parameters['latency_ms']:g} ms added to every AWS request, "
            f"{workers} workers (regions in parallel) and 1 (one region after another):",
            "",
            timing_table(results),
            "",
            "parameters: " + json.dumps(parameters),
        ]
    )


def _year_reads(hour: datetime, regions: Sequence[str]) -> list[period_reads.PeriodReadFigures]:
    say("storing a year of one connection's roll-ups, then reading it by month and by day")
    # Last calendar year: whole months, as report --granularity month reads them.
    return period_reads.year_reads(datetime(hour.year - 1, 1, 1, tzinfo=UTC), regions)


def year_reads_table(figures: Sequence[period_reads.PeriodReadFigures]) -> str:
    """The DynamoDB requests of one connection's year by service (``report --granularity``; budget 15)."""
    rows = [[f"by {f.granularity}", f"{f.regions} x {f.services}", f.periods, f.requests] for f in figures]
    heading = (
        "A year of one connection by service, read from its roll-ups (DynamoDB requests counted; before the "
        "roll-ups such a view read 8,760 hour partitions):"
    )
    return "\n".join([heading, "", report.table(["view", "regions x services", "periods", "requests"], rows)])


def _year_export(hour: datetime) -> export_memory.ExportFigures:
    say("storing a year of one connection's hourly roll-ups, then exporting it by hour (tracemalloc on)")
    return export_memory.year_export(datetime(hour.year - 1, 1, 1, tzinfo=UTC), say=say)


def export_table(figures: export_memory.ExportFigures) -> str:
    """Peak memory and rate of ``export --format csv --granularity hour --by service`` over a year of hours."""
    rows = [
        [
            f"{figures.hours:,}",
            figures.groups_per_hour,
            f"{figures.rows:,}",
            f"{figures.csv_bytes / 2**20:.1f}",
            f"{figures.peak_mib:.1f}",
            f"{figures.seconds:.0f}",
            f"{figures.rows_per_second:,.0f}",
        ]
    ]
    heading = (
        "A year of hourly roll-ups exported as CSV, by hour and service, rows written as read (tracemalloc peak of "
        "the exporting process; the embedded AWS runs apart):"
    )
    headers = ["hours", "groups per hour", "rows", "CSV MiB", "peak MiB", "seconds", "rows/s"]
    return "\n".join([heading, "", report.table(headers, rows)])


def cpu_figures(
    results: Iterable[FleetFigures], before: collector_before.BeforeRun | None = None
) -> list[collector_cpu.CpuFigures]:
    return [
        collector_cpu.CpuFigures(
            r.size,
            r.usage_records,
            r.client_seconds,
            r.client_cpu_seconds,
            r.speedup,
            before if before is not None and before.size == r.size else None,
        )
        for r in results
    ]


def measure_before(sizes: Sequence[int], regions: Sequence[str], latency_ms: float, say: Say) -> BeforeRun | None:
    """The old collector on the CPU target's fleet, in this run; None (said why) when it cannot be measured here."""
    if collector_before.SIZE not in sizes:
        return None
    try:
        return collector_before.measure(collector_before.SIZE, regions, latency_ms, say=say)
    except collector_before.BeforeUnavailable as error:
        say(f"[before] not measured in this run ({error}); the before recorded in devtools.collector_cpu stands in")
        return None


def environment_description() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "moto": moto.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


# --- command line ----------------------------------------------------------------------------------


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(item.replace("_", "")) for item in value.split(",") if item.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers: {exc}") from exc
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("expected comma-separated fleet sizes of at least 1")
    return sizes


def _regions(value: str) -> list[str]:
    regions = [item.strip() for item in value.split(",") if item.strip()]
    if not regions:
        raise argparse.ArgumentTypeError("expected a comma-separated list of regions")
    return regions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.benchmark", description=__doc__)
    parser.add_argument(
        "--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="fleet sizes (default 100,1000,10000)"
    )
    parser.add_argument("--regions", type=_regions, default=list(DEFAULT_REGIONS), help="regions to spread fleets over")
    parser.add_argument(
        "--latency-ms", type=float, default=DEFAULT_LATENCY_MS, help="added to every AWS request (default 50)"
    )
    parser.add_argument(
        "--datapoints-limit",
        type=int,
        default=DEFAULT_DATAPOINTS_LIMIT,
        help="larger fleets get their datapoints outside the hour collected, as the emulator's "
        "GetMetricData is quadratic (default 1000)",
    )
    parser.add_argument(
        "--no-year-reads",
        action="store_true",
        help="skip the DynamoDB requests of a year of roll-ups (about a minute: it stores a year of days first)",
    )
    parser.add_argument(
        "--no-export",
        action="store_true",
        help="skip the year-of-hourly export's peak memory (a few minutes: it stores a year of hours first)",
    )
    parser.add_argument(
        "--no-lambda",
        action="store_true",
        help="skip the handlers' import times, the layer's size, peak memory and the calculator's throughput "
        "(about three minutes; python -m devtools.lambda_benchmark runs them alone)",
    )
    parser.add_argument("--no-windows", action="store_true", help="skip the collection windows' cost (about a minute)")
    parser.add_argument("--windows-only", action="store_true", help="only the collection windows' cost")
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="skip the scheduler's hourly run at 1,000 connections (a minute or two: it registers them first)",
    )
    parser.add_argument(
        "--windows-size", type=int, default=window_costs.DEFAULT_SIZE, help="resources of the windows' fleet (1000)"
    )
    parser.add_argument(
        "--no-before",
        action="store_true",
        help="skip measuring the collector as it was before its CPU was cut (about seven minutes: its own benchmark "
        "of 10,000 resources, from the repository's history); the before recorded in devtools.collector_cpu stands in",
    )
    parser.add_argument(
        "--profile-collector",
        action="store_true",
        help="also profile one client-only collection of each fleet with cProfile and print where its CPU goes",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.windows_only:
        args.sizes, args.no_year_reads, args.no_export, args.no_lambda = [], True, True, True
        args.no_scheduler = args.no_before = True
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    hour = previous_whole_hour(datetime.now(UTC))
    parameters = {
        "sizes": args.sizes,
        "regions": args.regions,
        "latency_ms": args.latency_ms,
        "datapoints_limit": args.datapoints_limit,
        "hour": hour_key(hour),
        **environment_description(),
    }
    started = time.perf_counter()
    results = [
        in_own_interpreter(
            benchmark_size,
            size,
            args.regions,
            hour,
            args.latency_ms / 1000,
            datapoints_in_window=size <= args.datapoints_limit,
            say=say,
            profile=args.profile_collector,
        )
        for size in args.sizes
    ]
    before = None if args.no_before else measure_before(args.sizes, args.regions, args.latency_ms, say)
    year_figures = [] if args.no_year_reads else _year_reads(hour, args.regions)
    export_figures = None if args.no_export else _year_export(hour)
    from devtools import lambda_benchmark  # here: it imports this module

    lambda_figures = None if args.no_lambda else lambda_benchmark.measure(args.regions, say=say)
    windows = [] if args.no_windows else window_costs.measure(args.windows_size, args.regions)
    from devtools import scheduler_scale  # here: it imports this module

    scheduler_runs = (
        []
        if args.no_scheduler
        else scheduler_scale.measure(
            scheduler_scale.SIZES, scheduler_scale.DEFAULT_LATENCY_MS, scheduler_scale.DEFAULT_WORKERS
        )
    )
    say(f"benchmark finished in {time.perf_counter() - started:.0f}s")
    from devtools import targets  # here: it imports this module's neighbours, which import it

    found_targets = targets.rows(cpu_figures(results, before), lambda_figures, windows, scheduler_runs)
    if args.format == "json":
        fleets = [r.as_dict() for r in results]
        years = [dataclasses.asdict(f) for f in year_figures]
        exported = None if export_figures is None else dataclasses.asdict(export_figures)
        document = {"parameters": parameters, "fleets": fleets, "year_reads": years, "year_export": exported}
        document["lambda"] = None if lambda_figures is None else lambda_figures.as_dict()
        document["windows"] = [f.as_dict() for f in windows]
        document["scheduler"] = [run.as_dict() for run in scheduler_runs]
        document["before"] = None if before is None else dataclasses.asdict(before)
        document["targets"] = [row.as_dict() for row in found_targets]
        print(json.dumps(document, indent=2))
    else:
        if results:
            print(render_table(results, parameters))
            print()
            print(collector_cpu.cpu_table(cpu_figures(results, before)))
        for r in results:
            if r.collector_profile:
                print()
                print(r.collector_profile)
        if year_figures:
            print()
            print(year_reads_table(year_figures))
        if export_figures is not None:
            print()
            print(export_table(export_figures))
        if lambda_figures is not None:
            print()
            print("\n".join(lambda_benchmark.lines(lambda_figures)))
        if windows:
            print()
            print(window_costs.table(windows))
        if scheduler_runs:
            print()
            print(scheduler_scale.table(scheduler_runs))
        if found_targets:
            print()
            print(targets.table(found_targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
