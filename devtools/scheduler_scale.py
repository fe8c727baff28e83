"""How long the scheduler's hourly run and its page steps take at 1,000 connections (or more), on the embedded AWS.

Each size gets its own empty embedded AWS with that many enabled connections, registered a few hours before the
run, so each has hours due. The real use cases run once against the emulator, their answers recorded: the hourly
run (``run_hourly``: the Scan, the pages sent) and each page's step (``run_page``: its statuses, its jobs). Then
again on the recorded answers with a fixed latency slept before every request (a botocore hook, 10 ms by default,
about a DynamoDB query's or an SQS send's round trip from Lambda), ``scheduler_workers`` requests at a time, with
the process's CPU time of each (the replayed answers cost none: it is the scheduler's own). Each Lambda
invocation is one of these steps: the hourly run, or one page (``SCHEDULER_CONSUMER``). The page's claim
(Powertools idempotency, in the handler) adds two requests a page and is left out. It prints figures; it is no
test (tests/integration/test_scheduler_scale.py checks the steps' requests and jobs).

    python -m devtools.scheduler_scale [--sizes 1000] [--latency-ms 10] [--workers 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, Connection, SchedulePage
from carbonmeter.scheduling import run_hourly, run_page
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.benchmark import RecordedAnswers, SimulatedLatency
from devtools.progress import say
from infra.constants import SCHEDULER

SIZES = (1000, 10000)
DEFAULT_LATENCY_MS = 10
DEFAULT_WORKERS = Settings().scheduler_workers
HOURLY, SLOWEST_PAGE, EVERY_PAGE = "hourly run", "slowest page", "every page"


@dataclass(frozen=True)
class SchedulerRun:
    connections: int
    # HOURLY and SLOWEST_PAGE are one invocation each; EVERY_PAGE adds up the pages (their GB-seconds).
    step: str
    pages: int
    workers: int
    requests: int
    jobs_queued: int
    seconds: float
    # The process's CPU time over the step (the replayed answers cost none): what a Lambda's share of a vCPU divides.
    cpu_seconds: float

    @property
    def share_of_timeout(self) -> float:
        return self.seconds / SCHEDULER.timeout.to_seconds()

    @property
    def invocation(self) -> bool:
        return self.step != EVERY_PAGE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"share_of_timeout": self.share_of_timeout}


@dataclass(frozen=True)
class _Timed:
    requests: int
    seconds: float
    cpu_seconds: float
    jobs: int


def measure(sizes: Sequence[int], latency_ms: float, workers: int) -> list[SchedulerRun]:
    """The hourly run and its pages at each size, ``workers`` requests at a time."""
    now = datetime.now(UTC).replace(minute=20, second=0, microsecond=0)
    return [run for size in sizes for run in _measure_size(size, latency_ms / 1000, workers, now)]


def _measure_size(size: int, latency_s: float, workers: int, now: datetime) -> list[SchedulerRun]:
    with embedded_aws():
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        settings = create_resources(clients, clients.settings).model_copy(update={"scheduler_workers": workers})
        say(f"registering {size:,} connections...")
        _register(ClientFactory(boto3.Session(), settings=settings), size, now)
        # Recorded once, replayed for the timed runs: the emulator runs in this process, and its own work would
        # otherwise compete with the scheduler's threads for the same interpreter (as devtools.benchmark does).
        answers = RecordedAnswers()
        recording = ClientFactory(boto3.Session(), settings=settings, hooks=answers.recording_hooks())
        run_hourly(recording, settings, now, now)
        pages = _sent_pages(recording, settings)
        for page in pages:
            run_page(recording, settings, page, now)

        replay = _Replay(answers, settings, latency_s)

        def hourly_step(timed: ClientFactory) -> int:
            run_hourly(timed, settings, now, now)
            return 0  # the hourly run queues pages, no jobs

        def page_step(page: SchedulePage) -> Callable[[ClientFactory], int]:
            return lambda timed: run_page(timed, settings, page, now).collect.jobs

        hourly = replay.timed(hourly_step)
        say(f"{size:,} connections: the hourly run {hourly.seconds:.2f} s, {len(pages)} pages")
        each = [replay.timed(page_step(page)) for page in pages]
        say(f"{size:,} connections: {len(pages)} pages, {sum(t.seconds for t in each):.1f} s in all")
        return _runs(size, len(pages), workers, hourly, each)


@dataclass(frozen=True)
class _Replay:
    answers: RecordedAnswers
    settings: Settings
    latency_s: float

    def timed(self, step: Callable[[ClientFactory], int]) -> _Timed:
        """``step`` on the recorded answers, each request after the latency; its requests, time, CPU and jobs."""
        latency = SimulatedLatency(self.latency_s)
        hooks = [*latency.hooks(), *self.answers.replay_hooks()]
        clients = ClientFactory(boto3.Session(), settings=self.settings, hooks=hooks)
        started, cpu_started = time.perf_counter(), time.process_time()
        jobs = step(clients)
        return _Timed(latency.requests, time.perf_counter() - started, time.process_time() - cpu_started, jobs)


def _runs(size: int, pages: int, workers: int, hourly: _Timed, each: Sequence[_Timed]) -> list[SchedulerRun]:
    slowest = max(each, key=lambda t: t.seconds)
    every = _Timed(
        sum(t.requests for t in each),
        sum(t.seconds for t in each),
        sum(t.cpu_seconds for t in each),
        sum(t.jobs for t in each),
    )
    return [
        SchedulerRun(size, step, pages, workers, t.requests, t.jobs, t.seconds, t.cpu_seconds)
        for step, t in ((HOURLY, hourly), (SLOWEST_PAGE, slowest), (EVERY_PAGE, every))
    ]


def _sent_pages(clients: ClientFactory, settings: Settings) -> list[SchedulePage]:
    """The pages the hourly run sent, taken off the page queue (as the page steps' event source would)."""
    assert settings.page_queue_url
    sqs, pages = clients.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=settings.page_queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            pages.append(SchedulePage.model_validate(json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=settings.page_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return sorted(pages, key=lambda page: page.page)


def _register(clients: ClientFactory, size: int, now: datetime) -> None:
    # 25 to a request: registering 10,000 one PutItem each cost the emulator more than the run measured.
    registered = (now - 2 * HOUR).replace(minute=0)
    ConnectionStore(clients, clients.settings.connections_table).put_many(
        Connection(
            connection_id=f"scale-{n:05d}",
            role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
            external_id=f"scale-external-{n:05d}",
            regions=("us-east-1",),
            created_at=registered - HOUR,
        )
        for n in range(size)
    )


def table(runs: Sequence[SchedulerRun]) -> str:
    lines = [
        f"scheduler's hourly run and its page steps (timeout {SCHEDULER.timeout.to_seconds():.0f} s an invocation)",
        "connections  pages  step          requests  jobs queued  seconds  CPU seconds  share of the timeout",
        "-----------  -----  ------------  --------  -----------  -------  -----------  --------------------",
    ]
    lines += [
        f"{r.connections:>11,}  {r.pages:>5,}  {r.step:<12}  {r.requests:>8,}  {r.jobs_queued:>11,}  "
        f"{r.seconds:>7.2f}  {r.cpu_seconds:>11.2f}  {_share(r):>20}"
        for r in runs
    ]
    return "\n".join(lines)


def _share(run: SchedulerRun) -> str:
    return f"{run.share_of_timeout:.2f}" if run.invocation else "(several)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.scheduler_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda text: [int(part) for part in text.split(",")], default=list(SIZES))
    parser.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    args = parser.parse_args(argv)
    print(table(measure(args.sizes, args.latency_ms, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
