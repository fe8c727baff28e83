"""``make soak``: hundreds of connections through the local pipeline for a simulated day, with faults at random.

Two runs, each on a fresh embedded AWS seeded identically (same fleets, same resource ids,
same metrics): a fault-free reference, and the soak. The soak fires the real scheduler once
per simulated hour and drains both queues through the real collector and calculator, while
``carbonmeter.local.faults`` throttles, fails and drops AWS calls at random, DynamoDB leaves
items unprocessed, invocations time out mid-batch, roles refuse AssumeRole for a few hours,
SQS delivers duplicates and one region goes down for some hours. When the faulty hours are
over it keeps firing the hourly schedule, fault-free, until the watermark has re-queued every
incomplete hour, then redrives whatever is left in the dead-letter queues as an operator would.

It then checks the ledger against the reference: every connection-hour stored exactly once
(the same usage, emission and roll-up items under the same keys), every hour's status
complete, the same totals, and empty dead-letter queues. The figures go to stdout; progress to
stderr. The exit status is non-zero when a check fails.

Time is simulated: each hourly run fires at its hour's end, and the status records it writes
carry that time, so the look-back watermark sees hours go by without waiting for them.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from unittest import mock
from urllib.parse import parse_qs

from botocore.awsrequest import AWSPreparedRequest

from carbonmeter import report, store
from carbonmeter.aws import ClientFactory
from carbonmeter.local.faults import ALWAYS, Faults, InvocationTimeout, Rule, instant_backoff, lambda_timeouts
from carbonmeter.local.faults import request_region as signed_region
from carbonmeter.local.pipeline import Handler, LocalPipeline, lambda_environment
from carbonmeter.local.resources import CALCULATE_QUEUE, COLLECT_QUEUE, DEAD_LETTER_SUFFIX, create_resources
from carbonmeter.local.seed import seed_fleet
from carbonmeter.local.server import embedded_aws
from carbonmeter.models import HOUR, CollectJob, Connection, hour_key, hours_between, previous_whole_hour
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import enqueue
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore

# Each fleet is a customer account's resources in its own regions; connections point at one fleet.
FLEET_REGIONS: tuple[tuple[str, ...], ...] = (
    ("us-east-1", "eu-west-1"),
    ("us-west-2", "eu-central-1"),
    ("ap-southeast-2", "ap-northeast-1"),
    ("ca-central-1", "sa-east-1"),
)
# Metric-bearing resources per fleet (EC2, Lambda, S3, RDS; instances bring root volumes).
FLEET_SIZES: tuple[int, ...] = (12, 8, 20, 6)
# Services whose calls the soak throttles and fails at random.
FAULTED_SERVICES: tuple[str, ...] = ("sts", "ec2", "cloudwatch", "rds", "lambda", "s3", "dynamodb", "sqs")
# The hourly rule's event is retried twice by EventBridge when the scheduler fails.
SCHEDULER_ATTEMPTS = 3
# Usage, emission and roll-up writes per connection-hour, give or take: where a timeout can strike.
WRITES_PER_CONNECTION_HOUR = 3
COLLECTOR_BATCH_SIZE = 10
REDRIVE_ROUNDS = 3
RELATIVE_TOLERANCE = 1e-9
DEFAULT_CONNECTIONS = 200
DEFAULT_HOURS = 24
DEFAULT_FAULT_RATE = 0.05
DEFAULT_MAX_RECOVERY_HOURS = 6

Key = tuple[str, str]
Item = dict[str, Any]


@dataclass(frozen=True)
class SoakOptions:
    connections: int = DEFAULT_CONNECTIONS
    hours: int = DEFAULT_HOURS
    fault_rate: float = DEFAULT_FAULT_RATE
    seed: int = 1
    max_recovery_hours: int = DEFAULT_MAX_RECOVERY_HOURS
    # Settings.retry_incomplete_after_hours: how long the watermark waits before re-queuing an incomplete hour.
    retry_after_hours: int = Settings().retry_incomplete_after_hours
    # Seeded customer fleets the connections share (at most len(FLEET_REGIONS)).
    fleets: int = len(FLEET_REGIONS)
    # Botocore's retry mode for calls into customer accounts (CarbonMeter's own clients use standard).
    retry_mode: Literal["standard", "adaptive"] = "standard"


@dataclass(frozen=True)
class SoakConnection:
    connection_id: str
    external_id: str
    regions: tuple[str, ...]


# --- the fault plan ------------------------------------------------------------------------------


@dataclass
class FaultPlan:
    """What goes wrong, hour by hour, drawn up front from the seed.

    Request-level faults (throttling, 5xx, lost replies) are rules renewed every hour, so a
    request that recurs every hour (a DescribeInstances, an AssumeRole) can be picked again.
    """

    rate: float
    outage_region: str | None = None
    outage_hours: frozenset[datetime] = frozenset()
    # hour -> ExternalIds whose AssumeRole is refused (AccessDenied) during that hour
    refused: dict[datetime, frozenset[str]] = field(default_factory=dict)
    # hour -> connections whose collect message for the hour SQS delivers twice
    duplicates: dict[datetime, tuple[str, ...]] = field(default_factory=dict)
    # hour -> for each Lambda timeout, the BatchWriteItem calls of the hour that go through before it
    timeouts: dict[datetime, tuple[int, ...]] = field(default_factory=dict)
    # hour -> (BatchWriteItem calls that come back with UnprocessedItems, requests each one keeps)
    unprocessed: dict[datetime, tuple[int, int]] = field(default_factory=dict)
    refusals: int = 0

    @classmethod
    def draw(
        cls, options: SoakOptions, connections: Sequence[SoakConnection], hours: Sequence[datetime], home: str
    ) -> FaultPlan:
        """The plan for ``hours``; ``home`` is CarbonMeter's own region, which the outage spares."""
        rate = options.fault_rate if hours else 0.0
        plan = cls(rate=rate)
        if rate <= 0:
            return plan
        rng = random.Random(f"fault-plan:{options.seed}")
        plan.outage_region = rng.choice(sorted({r for c in connections for r in c.regions if r != home}))
        length = min(len(hours), rng.randint(2, 4))
        start = rng.randrange(len(hours) - length + 1)
        plan.outage_hours = frozenset(hours[start : start + length])
        writes = WRITES_PER_CONNECTION_HOUR * len(connections)
        batches = 2 * math.ceil(len(connections) / COLLECTOR_BATCH_SIZE)
        refused_until: dict[str, int] = {}
        for index, hour in enumerate(hours):
            # An AccessDenied burst: the customer's role refuses CarbonMeter for one to three hours.
            for connection in connections:
                if rng.random() < rate / 10:
                    refused_until[connection.external_id] = index + rng.randint(1, 3)
            refused = frozenset(e for e, until in refused_until.items() if index < until)
            plan.refused[hour] = refused
            plan.refusals += len(refused)
            plan.duplicates[hour] = tuple(c.connection_id for c in connections if rng.random() < rate)
            plan.timeouts[hour] = tuple(rng.randrange(writes) for _ in range(batches) if rng.random() < rate)
            plan.unprocessed[hour] = (sum(rng.random() < rate for _ in range(writes)), rng.randint(1, 20))
        return plan


class FaultInjector:
    """Turns a ``FaultPlan`` into ``Faults`` rules as the simulated hours go by."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self.faults = Faults(seed=seed)
        self.hour: datetime | None = None
        self._unprocessed_calls = 0
        self._rng = random.Random(f"fault-rules:{seed}")
        if plan.rate <= 0:
            return
        for service in ("ec2", "cloudwatch", "rds", "lambda", "s3"):
            # Every call to the region fails with a 503, retries included, while the outage lasts.
            self.faults.add(
                Rule(service, None, "region-outage", code="ServiceUnavailable", status=503, times=ALWAYS)
            ).when = self._in_outage
        self.faults.error(
            "sts",
            "AssumeRole",
            "AccessDenied",
            403,
            times=ALWAYS,
            when=self._refused,
            message="User is not authorized to perform: sts:AssumeRole",
        )

    def start_hour(self, hour: datetime) -> None:
        """Arm this hour's faults (and retire the previous hour's)."""
        self.hour = hour
        if self.plan.rate <= 0:
            return
        during = self._during(hour)
        rate = self.plan.rate
        for service in FAULTED_SERVICES:
            self.faults.throttle(service, probability=rate, times=self._rng.randint(1, 2), when=during)
            self.faults.server_error(service, probability=rate, when=during)
        self.faults.lose_replies("dynamodb", "BatchWriteItem", probability=rate, when=during)
        self.faults.lose_replies("sqs", "SendMessageBatch", probability=rate, when=during)
        for after in self.plan.timeouts.get(hour, ()):
            crash = self.faults.crash("dynamodb", "BatchWriteItem", InvocationTimeout("soak"), after=after)
            crash.when = during
        calls, keep = self.plan.unprocessed.get(hour, (0, 0))
        # Faults counts these calls from the start of the run, so the allowance grows hour by hour.
        self._unprocessed_calls += calls
        self.faults.unprocessed_items(calls=self._unprocessed_calls, keep=keep)

    def _during(self, hour: datetime) -> Callable[[AWSPreparedRequest], bool]:
        return lambda _request: self.hour == hour

    def _in_outage(self, request: AWSPreparedRequest) -> bool:
        return self.hour in self.plan.outage_hours and signed_region(request) == self.plan.outage_region

    def _refused(self, request: AWSPreparedRequest) -> bool:
        return self.hour is not None and _external_id(request) in self.plan.refused.get(self.hour, frozenset())


def _external_id(request: AWSPreparedRequest) -> str:
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    return parse_qs(body).get("ExternalId", [""])[0]


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Everything the pipeline stored, by DynamoDB key."""

    usage: dict[Key, Item] = field(default_factory=dict)
    statuses: dict[Key, Item] = field(default_factory=dict)
    emissions: dict[Key, Item] = field(default_factory=dict)
    rollups: dict[Key, Item] = field(default_factory=dict)

    def within(self, hour_keys: set[str]) -> Ledger:
        """The items of the given hours only."""
        return Ledger(
            usage={k: v for k, v in self.usage.items() if _hour_of_partition(k[0])[1] in hour_keys},
            statuses={k: v for k, v in self.statuses.items() if _hour_of_sort_key(v)[1] in hour_keys},
            emissions={k: v for k, v in self.emissions.items() if _hour_of_partition(k[0])[1] in hour_keys},
            rollups={k: v for k, v in self.rollups.items() if _hour_of_sort_key(v)[1] in hour_keys},
        )

    def totals(self) -> dict[str, float]:
        """Energy and emissions summed over every emission record."""
        names = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")
        return {name: math.fsum(float(item[name]) for item in self.emissions.values()) for name in names}

    def rollup_totals(self) -> dict[str, float]:
        names = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")
        return {name: math.fsum(float(item[name]) for item in self.rollups.values()) for name in names}


@dataclass
class RunResult:
    name: str
    hours: list[datetime]
    faulty_hours: int
    ledger: Ledger
    seconds: float
    counts: Counter[str]
    faults: Counter[str]
    dead_letters: dict[str, int]
    left_in_dead_letters: dict[str, int]

    def restricted_to(self, hours: Sequence[datetime]) -> RunResult:
        """This run with only the ledger items of ``hours`` (which it must have run)."""
        keys = {hour_key(hour) for hour in hours}
        if not keys <= {hour_key(hour) for hour in self.hours}:
            raise ValueError(f"{self.name} did not run every hour asked for")
        return replace(self, hours=list(hours), ledger=self.ledger.within(keys))


class SoakRun:
    """One run on a fresh embedded AWS: seed, register, drive the hours, read the ledger."""

    def __init__(
        self, name: str, options: SoakOptions, seeded: Sequence[datetime], hours: Sequence[datetime], faulty_hours: int
    ) -> None:
        self.name = name
        self.options = options
        # Both runs seed the same hours, so that every resource gets the same metrics.
        self.seeded = list(seeded)
        self.hours = list(hours)
        self.faulty_hours = faulty_hours
        self.counts: Counter[str] = Counter()
        self.now = self.hours[0]

    def execute(self, recover: bool) -> RunResult:
        """Drive the hours (the first ``faulty_hours`` with faults); with ``recover``, run on until complete."""
        started = time.monotonic()
        with embedded_aws() as endpoint:
            setup = ClientFactory(settings=Settings())
            settings = create_resources(setup, setup.settings).model_copy(
                update={
                    "retry_mode": self.options.retry_mode,
                    "retry_incomplete_after_hours": self.options.retry_after_hours,
                }
            )
            connections = self._seed(endpoint, setup, settings)
            plan = FaultPlan.draw(self.options, connections, self.hours[: self.faulty_hours], settings.region)
            injector = FaultInjector(plan, self.options.seed)
            self.counts["AccessDenied connection-hours planned"] = plan.refusals
            handler_clients = ClientFactory(settings=settings, hooks=injector.faults.hooks(), retry_mode="standard")
            with ExitStack() as stack:
                stack.enter_context(lambda_environment(settings))
                stack.enter_context(use_runtime(Runtime(settings=settings, clients=handler_clients)))
                stack.enter_context(instant_backoff())
                stack.enter_context(self._simulated_time())
                # The functions print their EMF metrics on stdout (Powertools publishes every 100 values even
                # with metrics disabled); stdout is the report's alone.
                stack.enter_context(redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
                pipeline = self._pipeline(setup, settings)
                ran = self._drive(pipeline, injector, setup, settings, connections, recover)
                dead_letters = self._redrive(pipeline, setup, injector)
                left = _dead_letter_counts(setup)
            ledger = read_ledger(setup, settings)
        return RunResult(
            name=self.name,
            hours=ran,
            faulty_hours=self.faulty_hours,
            ledger=ledger,
            seconds=time.monotonic() - started,
            counts=self.counts,
            faults=injector.faults.injected,
            dead_letters=dead_letters,
            left_in_dead_letters=left,
        )

    # --- setup ---

    def _seed(self, endpoint: str, clients: ClientFactory, settings: Settings) -> list[SoakConnection]:
        # moto draws resource ids from its own generator: seeded, both runs get the same ids.
        _post(f"{endpoint}/moto-api/seed?a={self.options.seed}")
        seeded = time.monotonic()
        fleets = [
            seed_fleet(clients, regions, size, self.seeded, rng_seed=self.options.seed + index)
            for index, (regions, size) in enumerate(zip(FLEET_REGIONS, FLEET_SIZES, strict=True))
            if index < self.options.fleets
        ]
        rng = random.Random(f"connections:{self.options.seed}")
        connections = []
        registry = ConnectionStore(clients, settings.connections_table)
        for index in range(self.options.connections):
            fleet = fleets[index % len(fleets)]
            # One connection in three collects both of its account's regions, the others one region each.
            one = (fleet.regions[(index // len(fleets)) % len(fleet.regions)],)
            regions = fleet.regions if index % 3 == 0 else one
            connection = SoakConnection(f"soak-{index:04d}", f"soak-{rng.getrandbits(96):024x}", regions)
            registry.put(
                Connection(
                    connection_id=connection.connection_id,
                    role_arn=fleet.role_arn,
                    external_id=connection.external_id,
                    regions=connection.regions,
                    # Registered when the first hour starts, so the scheduler collects from there.
                    created_at=self.hours[0],
                )
            )
            connections.append(connection)
        resources = sum(fleet.count() for fleet in fleets)
        _say(
            f"[{self.name}] seeded {len(fleets)} fleets ({resources} resources, {len(self.seeded)} hours of metrics) "
            f"and registered {len(connections)} connections in {time.monotonic() - seeded:.1f}s"
        )
        return connections

    def _pipeline(self, clients: ClientFactory, settings: Settings) -> LocalPipeline:
        pipeline = LocalPipeline(clients, settings, account_id=clients.client("sts").get_caller_identity()["Account"])
        pipeline.collector = self._counting(lambda_timeouts(pipeline.collector), "collector")
        pipeline.calculator = self._counting(lambda_timeouts(pipeline.calculator), "calculator")
        return pipeline

    def _counting(self, handler: Handler, name: str) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            self.counts[f"{name} invocations"] += 1
            for record in event["Records"]:
                self.counts[f"{name} messages received"] += 1
                if int(record["attributes"]["ApproximateReceiveCount"]) > 1:
                    self.counts[f"{name} messages redelivered"] += 1
            try:
                return handler(event, context)
            except Exception:
                # A timeout, or every message failing (Powertools then fails the invocation).
                self.counts[f"{name} invocations failed whole"] += 1
                raise

        return invoke

    def _clock(self) -> str:
        return self.now.isoformat()

    @contextmanager
    def _simulated_time(self) -> Iterator[None]:
        # The watermark compares an hour's status time with the hourly run's: both must be simulated.
        with mock.patch.object(store, "_now", self._clock):
            yield

    # --- the hours ---

    def _drive(
        self,
        pipeline: LocalPipeline,
        injector: FaultInjector,
        clients: ClientFactory,
        settings: Settings,
        connections: Sequence[SoakConnection],
        recover: bool,
    ) -> list[datetime]:
        ran: list[datetime] = []
        for hour in self.hours[: self.faulty_hours]:
            injector.start_hour(hour)
            self._run_hour(pipeline, hour, injector, clients, settings)
            ran.append(hour)
        injector.hour = None
        with injector.faults.disarmed():
            for hour in self.hours[self.faulty_hours :]:
                if recover and _incomplete(clients, settings, connections, ran[0], hour) == 0:
                    break
                self._run_hour(pipeline, hour, injector, clients, settings, label="fault-free")
                ran.append(hour)
        return ran

    def _run_hour(
        self,
        pipeline: LocalPipeline,
        hour: datetime,
        injector: FaultInjector,
        clients: ClientFactory,
        settings: Settings,
        label: str = "",
    ) -> None:
        started = time.monotonic()
        before = injector.faults.total
        queued = self._fire(pipeline, hour)
        duplicates = injector.plan.duplicates.get(hour, ()) if injector.hour else ()
        if duplicates:
            # At-least-once delivery: the same collect message arrives twice.
            assert settings.collect_queue_url
            enqueue(clients, settings.collect_queue_url, [CollectJob(connection_id=c, hour=hour) for c in duplicates])
            self.counts["duplicate collect messages"] += len(duplicates)
        collected, calculated = pipeline.drain_collect(), pipeline.drain_calculate()
        for stats, name in ((collected, "collector"), (calculated, "calculator")):
            self.counts[f"{name} messages failed"] += stats.failed
        self.counts["hourly runs"] += 1
        notes = [label] if label else []
        if injector.hour in injector.plan.outage_hours:
            notes.append(f"{injector.plan.outage_region} down")
        _say(
            f"[{self.name}] {hour_key(hour)}: queued {queued}, collected {collected.succeeded} "
            f"(failed {collected.failed}), calculated {calculated.succeeded} (failed {calculated.failed}), "
            f"faults {injector.faults.total - before}, {time.monotonic() - started:.1f}s"
            + (f" [{', '.join(notes)}]" if notes else "")
        )

    def _fire(self, pipeline: LocalPipeline, hour: datetime) -> int:
        """The hourly rule firing just after ``hour`` ends; EventBridge retries a failed invocation twice."""
        fired_at = hour + HOUR + timedelta(minutes=2)
        self.now = fired_at
        for _attempt in range(SCHEDULER_ATTEMPTS):
            try:
                jobs: int = pipeline.fire_schedule(fired_at)["jobs"]
            except Exception as error:
                self.counts["scheduler invocations failed"] += 1
                _say(f"[{self.name}] scheduler failed at {hour_key(fired_at)}: {error}")
            else:
                return jobs
        return 0

    def _redrive(self, pipeline: LocalPipeline, clients: ClientFactory, injector: FaultInjector) -> dict[str, int]:
        """Move dead letters back to their queues and drain, as the runbook says; how many there were."""
        found: Counter[str] = Counter()
        with injector.faults.disarmed():
            for _round in range(REDRIVE_ROUNDS):
                moved = {name: _move_dead_letters(clients, name) for name in (COLLECT_QUEUE, CALCULATE_QUEUE)}
                if not any(moved.values()):
                    break
                found.update(moved)
                _say(
                    f"[{self.name}] redrove {moved[COLLECT_QUEUE]} collect and {moved[CALCULATE_QUEUE]} calculate jobs"
                )
                pipeline.drain_collect()
                pipeline.drain_calculate()
        return {name: found[name] for name in (COLLECT_QUEUE, CALCULATE_QUEUE)}


def _incomplete(
    clients: ClientFactory, settings: Settings, connections: Sequence[SoakConnection], start: datetime, end: datetime
) -> int:
    """Connection-hours in [start, end) with no status, or an incomplete one."""
    statuses = StatusStore(clients, settings.usage_table)
    missing = 0
    for connection in connections:
        found = statuses.between(connection.connection_id, start, end)
        missing += sum(1 for hour in hours_between(start, end) if hour not in found or not found[hour].complete)
    return missing


def _queue_url(clients: ClientFactory, name: str) -> str:
    url: str = clients.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def _move_dead_letters(clients: ClientFactory, queue: str) -> int:
    sqs = clients.client("sqs")
    source, dead = _queue_url(clients, queue), _queue_url(clients, queue + DEAD_LETTER_SUFFIX)
    moved = 0
    while messages := sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10).get("Messages", []):
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        sqs.send_message_batch(QueueUrl=source, Entries=entries)
        handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=dead, Entries=handles)
        moved += len(messages)
    return moved


def _dead_letter_counts(clients: ClientFactory) -> dict[str, int]:
    sqs = clients.client("sqs")
    counts = {}
    for name in (COLLECT_QUEUE, CALCULATE_QUEUE):
        attributes = sqs.get_queue_attributes(
            QueueUrl=_queue_url(clients, name + DEAD_LETTER_SUFFIX),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        counts[name] = sum(int(value) for value in attributes.values())
    return counts


def read_ledger(clients: ClientFactory, settings: Settings) -> Ledger:
    """Every item of the usage and emissions tables, sorted into usage, statuses, emissions and roll-ups."""
    ledger = Ledger()
    for item in _scan(clients, settings.usage_table):
        target = ledger.statuses if item["sk"].startswith("status#") else ledger.usage
        target[(item["pk"], item["sk"])] = item
    for item in _scan(clients, settings.emissions_table):
        target = ledger.rollups if item["sk"].startswith("rollup#") else ledger.emissions
        target[(item["pk"], item["sk"])] = item
    return ledger


def _scan(clients: ClientFactory, table_name: str) -> Iterator[Item]:
    table = clients.resource("dynamodb").Table(table_name)
    params: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _post(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as response:  # noqa: S310
        response.read()


# --- checks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def connection_hours(connection_ids: Sequence[str], hours: Sequence[datetime]) -> set[Key]:
    return {(connection_id, hour_key(hour)) for connection_id in connection_ids for hour in hours}


def _hour_of_partition(pk: str) -> Key:
    connection_id, hour = pk.split("#", 1)
    return connection_id, hour


def _hour_of_sort_key(item: Item) -> Key:
    # Statuses are keyed "status#<hour>", roll-ups "rollup#<hour>#<region>#<service>".
    return item["pk"], item["sk"].split("#")[1]


def check(soak: RunResult, reference: RunResult, connection_ids: Sequence[str]) -> list[Check]:
    """Compare the soak's ledger with the reference's; every check names what it found."""
    expected = connection_hours(connection_ids, soak.hours)
    checks = [
        _covers(
            "usage: every connection-hour stored", {_hour_of_partition(pk) for pk, _ in soak.ledger.usage}, expected
        ),
        _covers(
            "emissions: every connection-hour stored",
            {_hour_of_partition(pk) for pk, _ in soak.ledger.emissions},
            expected,
        ),
        _covers(
            "roll-ups: every connection-hour stored",
            {_hour_of_sort_key(i) for i in soak.ledger.rollups.values()},
            expected,
        ),
    ]
    for kind in ("usage", "emissions", "rollups"):
        checks.append(_same_items(kind, getattr(soak.ledger, kind), getattr(reference.ledger, kind)))
    for run in (soak, reference):
        checks.append(_complete(run, connection_hours(connection_ids, run.hours)))
    checks.append(_same_totals("totals (emission records)", soak.ledger.totals(), reference.ledger.totals()))
    checks.append(_same_totals("totals (roll-ups)", soak.ledger.rollup_totals(), reference.ledger.rollup_totals()))
    left = sum(soak.left_in_dead_letters.values()) + sum(reference.left_in_dead_letters.values())
    checks.append(Check("dead-letter queues empty at the end", left == 0, f"{left} messages left"))
    ref_failures = sum(n for key, n in reference.counts.items() if "failed" in key) + sum(
        reference.dead_letters.values()
    )
    checks.append(Check("reference run had no failure", ref_failures == 0, f"{ref_failures} failures"))
    return checks


def _covers(name: str, found: set[Key], expected: set[Key]) -> Check:
    missing, extra = expected - found, found - expected
    detail = f"{len(found & expected)} of {len(expected)}"
    if missing or extra:
        detail += f"; missing {len(missing)} (e.g. {sorted(missing)[:2]}), unexpected {len(extra)}"
    return Check(name, not missing and not extra, detail)


def _same_items(kind: str, soak: Mapping[Key, Item], reference: Mapping[Key, Item]) -> Check:
    missing = reference.keys() - soak.keys()
    extra = soak.keys() - reference.keys()
    differing = [key for key in soak.keys() & reference.keys() if _canonical(soak[key]) != _canonical(reference[key])]
    passed = not (missing or extra or differing)
    detail = f"{len(soak)} items, reference {len(reference)}"
    if not passed:
        detail += f"; missing {len(missing)}, extra {len(extra)}, differing {len(differing)}"
        example = sorted(missing | extra | set(differing))[:1]
        detail += f" (e.g. {example})"
    return Check(f"{kind}: same keys and values as the reference", passed, detail)


def _canonical(item: Item) -> str:
    return json.dumps(item, sort_keys=True, default=_plain)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot compare {type(value).__name__}")


def _complete(run: RunResult, expected: set[Key]) -> Check:
    statuses = {_hour_of_sort_key(item): item for item in run.ledger.statuses.values()}
    incomplete = [key for key in expected if key not in statuses or _failed_scopes(statuses[key])]
    extra = statuses.keys() - expected
    detail = f"{len(expected) - len(incomplete)} of {len(expected)} complete"
    if extra:
        detail += f", {len(extra)} unexpected"
    return Check(f"{run.name}: every hour's status complete", not incomplete and not extra, detail)


def _failed_scopes(status: Item) -> set[str]:
    # A scope stored by any attempt is not missing, whatever a later attempt met (as HourStatus reads it).
    return set(status.get("failed") or {}) - set(status.get("succeeded") or ())


def _same_totals(name: str, soak: Mapping[str, float], reference: Mapping[str, float]) -> Check:
    differing = [k for k in reference if not math.isclose(soak[k], reference[k], rel_tol=RELATIVE_TOLERANCE)]
    return Check(
        name, not differing, f"within {RELATIVE_TOLERANCE:g} relative" if not differing else f"differ: {differing}"
    )


# --- the report ----------------------------------------------------------------------------------


def render(options: SoakOptions, soak: RunResult, reference: RunResult, checks: Sequence[Check]) -> str:
    expected = options.connections * len(soak.hours)
    recovery = len(soak.hours) - soak.faulty_hours
    lines = [
        f"CarbonMeter soak: {options.connections} connections x {soak.faulty_hours} hours with faults "
        f"(rate {options.fault_rate:g}, seed {options.seed}, retry mode {options.retry_mode}), "
        f"then {recovery} fault-free hour{'' if recovery == 1 else 's'}; {expected:,} connection-hours "
        f"({hour_key(soak.hours[0])} to {hour_key(soak.hours[-1] + HOUR)})",
        "",
        report.table(
            ["ledger", "soak", "reference"],
            [
                ["usage records", len(soak.ledger.usage), len(reference.ledger.usage)],
                ["emission records", len(soak.ledger.emissions), len(reference.ledger.emissions)],
                ["roll-ups", len(soak.ledger.rollups), len(reference.ledger.rollups)],
                ["hour statuses", len(soak.ledger.statuses), len(reference.ledger.statuses)],
                *(
                    [f"total {name}", f"{soak.ledger.totals()[name]:.9f}", f"{reference.ledger.totals()[name]:.9f}"]
                    for name in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")
                ),
            ],
        ),
        "",
        report.table(["fault injected", "count"], _fault_rows(soak)),
        "",
        report.table(["pipeline", "soak", "reference"], _pipeline_rows(soak, reference)),
        "",
        report.table(
            ["check", "result", "detail"], [[c.name, "PASS" if c.passed else "FAIL", c.detail] for c in checks]
        ),
    ]
    return "\n".join(lines)


def _fault_rows(run: RunResult) -> list[list[Any]]:
    by_kind: Counter[str] = Counter()
    for key, count in run.faults.items():
        label = key.split(":", 2)[2]
        kind = {
            "throttled": "throttling (service's own error)",
            "http503": "5xx (503)",
            "reply-lost": "applied, reply lost (500)",
            "unprocessed-items": "BatchWriteItem items left unprocessed",
            "raised InvocationTimeout": "Lambda timeout mid-batch",
            "AccessDenied": "AssumeRole AccessDenied",
            "region-outage": "region outage (503, every retry)",
        }.get(label, label)
        by_kind[kind] += count
    rows: list[list[Any]] = [[kind, count] for kind, count in sorted(by_kind.items())]
    rows.append(["duplicate collect messages", run.counts["duplicate collect messages"]])
    rows.append(["TOTAL", sum(by_kind.values()) + run.counts["duplicate collect messages"]])
    return rows


def _pipeline_rows(soak: RunResult, reference: RunResult) -> list[list[Any]]:
    names = [
        "hourly runs",
        "scheduler invocations failed",
        "collector messages received",
        "collector messages redelivered",
        "collector messages failed",
        "collector invocations failed whole",
        "calculator messages received",
        "calculator messages redelivered",
        "calculator messages failed",
        "calculator invocations failed whole",
    ]
    rows: list[list[Any]] = [[name, soak.counts[name], reference.counts[name]] for name in names]
    for queue in (COLLECT_QUEUE, CALCULATE_QUEUE):
        rows.append([f"{queue} dead letters redriven", soak.dead_letters[queue], reference.dead_letters[queue]])
    rows.append(["wall time (s)", round(soak.seconds, 1), round(reference.seconds, 1)])
    return rows


# --- entry point ---------------------------------------------------------------------------------


def soak_hours(options: SoakOptions, now: datetime) -> list[datetime]:
    """The faulty hours and the recovery hours after them, ending with the last whole hour before ``now``."""
    end = previous_whole_hour(now) + HOUR
    return hours_between(end - (options.hours + options.max_recovery_hours) * HOUR, end)


def run_soak(options: SoakOptions, now: datetime) -> tuple[RunResult, RunResult, list[Check]]:
    """The soak run and the fault-free reference (side by side, in two processes), and the checks comparing them.

    The reference runs every seeded hour; only the hours the soak ran are compared.
    """
    seeded = soak_hours(options, now)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = pool.submit(_reference_run, options, seeded)
        soak = SoakRun("soak", options, seeded, seeded, faulty_hours=options.hours).execute(recover=True)
        reference = pending.result().restricted_to(soak.hours)
    connection_ids = [f"soak-{index:04d}" for index in range(options.connections)]
    return soak, reference, check(soak, reference, connection_ids)


def _reference_run(options: SoakOptions, seeded: list[datetime]) -> RunResult:
    return SoakRun("reference", options, seeded, seeded, faulty_hours=0).execute(recover=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carbonmeter.local.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--hours", type=int, default=DEFAULT_HOURS, help="hours with faults injected")
    parser.add_argument(
        "--fault-rate", type=float, default=DEFAULT_FAULT_RATE, help="share of requests faulted per kind (0 to 1)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fleets", type=int, default=len(FLEET_REGIONS), help=f"customer fleets seeded (1 to {len(FLEET_REGIONS)})"
    )
    parser.add_argument(
        "--max-recovery-hours",
        type=int,
        default=DEFAULT_MAX_RECOVERY_HOURS,
        help="fault-free hourly runs allowed after the faulty ones to complete every hour",
    )
    parser.add_argument(
        "--retry-after-hours",
        type=int,
        default=SoakOptions.retry_after_hours,
        help="hours before the hourly run re-queues an incomplete hour (CARBONMETER_RETRY_INCOMPLETE_AFTER_HOURS)",
    )
    parser.add_argument(
        "--retry-mode",
        choices=["standard", "adaptive"],
        default="standard",
        help="botocore retry mode of the calls into customer accounts (the stack's default is adaptive)",
    )
    args = parser.parse_args(argv)
    if min(args.connections, args.hours, args.retry_after_hours) < 1 or args.max_recovery_hours < 0:
        parser.error("--connections, --hours and --retry-after-hours must be at least 1, --max-recovery-hours 0")
    if not 1 <= args.fleets <= len(FLEET_REGIONS):
        parser.error(f"--fleets must be between 1 and {len(FLEET_REGIONS)}")
    if not 0 <= args.fault_rate <= 1:
        parser.error("--fault-rate must be between 0 and 1")
    options = SoakOptions(
        connections=args.connections,
        hours=args.hours,
        fault_rate=args.fault_rate,
        seed=args.seed,
        fleets=args.fleets,
        max_recovery_hours=args.max_recovery_hours,
        retry_after_hours=args.retry_after_hours,
        retry_mode=args.retry_mode,
    )
    soak, reference, checks = run_soak(options, datetime.now(UTC))
    print(render(options, soak, reference, checks))
    return 0 if all(c.passed for c in checks) else 1


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
