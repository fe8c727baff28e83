"""One soak run on a fresh embedded AWS: seed, register, drive the hours through the real handlers, read the ledger."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from unittest import mock

from carbonmeter import store
from carbonmeter.aws import ClientFactory
from carbonmeter.models import CollectJob, hour_key, hours_between
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import enqueue
from carbonmeter.settings import Settings
from carbonmeter.store import StatusStore
from devtools.aws.pipeline import Handler, LocalPipeline, lambda_environment
from devtools.aws.resources import CALCULATE_QUEUE, COLLECT_QUEUE, create_resources
from devtools.aws.server import embedded_aws
from devtools.faults import instant_backoff, lambda_timeouts
from devtools.progress import say
from devtools.soak.dead_letters import dead_letter_counts, move_dead_letters
from devtools.soak.fault_plan import FaultInjector, FaultPlan
from devtools.soak.fleets import seed_connections
from devtools.soak.ledger import Ledger, read_ledger
from devtools.soak.options import SoakConnection, SoakOptions

# The hourly rule's event is retried twice by EventBridge when the scheduler fails.
SCHEDULER_ATTEMPTS = 3
REDRIVE_ROUNDS = 3


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
            connections = seed_connections(self.name, endpoint, setup, settings, self.options, self.seeded)
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
                left = dead_letter_counts(setup)
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
        say(
            f"[{self.name}] {hour_key(hour)}: queued {queued}, collected {collected.succeeded} "
            f"(failed {collected.failed}), calculated {calculated.succeeded} (failed {calculated.failed}), "
            f"faults {injector.faults.total - before}, {time.monotonic() - started:.1f}s"
            + (f" [{', '.join(notes)}]" if notes else "")
        )

    def _fire(self, pipeline: LocalPipeline, hour: datetime) -> int:
        """The hourly rule firing just after ``hour`` ends; EventBridge retries a failed invocation twice."""
        fired_at = pipeline.fire_time(hour)
        self.now = fired_at
        for _attempt in range(SCHEDULER_ATTEMPTS):
            try:
                jobs: int = pipeline.fire_schedule(fired_at)["jobs"]
            except Exception as error:
                self.counts["scheduler invocations failed"] += 1
                say(f"[{self.name}] scheduler failed at {hour_key(fired_at)}: {error}")
            else:
                return jobs
        return 0

    def _redrive(self, pipeline: LocalPipeline, clients: ClientFactory, injector: FaultInjector) -> dict[str, int]:
        """Move dead letters back to their queues and drain, as the runbook says; how many there were."""
        found: Counter[str] = Counter()
        with injector.faults.disarmed():
            for _round in range(REDRIVE_ROUNDS):
                moved = {name: move_dead_letters(clients, name) for name in (COLLECT_QUEUE, CALCULATE_QUEUE)}
                if not any(moved.values()):
                    break
                found.update(moved)
                say(f"[{self.name}] redrove {moved[COLLECT_QUEUE]} collect and {moved[CALCULATE_QUEUE]} calculate jobs")
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
