"""How long the scheduler's hourly run takes at 1,000 connections (or more), on the embedded AWS.

Each size gets its own empty embedded AWS with that many enabled connections, registered a few hours before the
run, so each has hours due. The real ``run_hourly`` (the scheduler's use case) runs once against the emulator, its
answers recorded; then twice on the recorded answers with a fixed latency slept before every request (a botocore
hook, 10 ms by default, about a DynamoDB query's or an SQS send's round trip from Lambda): reading and sending one
request at a time, and ``scheduler_workers`` at a time, with the process's CPU time of each (the replayed answers
cost none: it is the scheduler's own). It prints figures; it is no test
(tests/integration/test_scheduler_scale.py checks that both ways queue the same jobs).

    python -m devtools.scheduler_scale [--sizes 1000] [--latency-ms 10] [--workers 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, Connection
from carbonmeter.scheduling import run_hourly
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.benchmark import RecordedAnswers, SimulatedLatency
from devtools.progress import say
from infra.constants import SCHEDULER

# 10,000 is measured on demand (--sizes 1000,10000, docs/benchmarks.md): about five minutes more, three of them the
# one-at-a-time run's own 13,000 simulated round trips.
SIZES = (1000,)
DEFAULT_LATENCY_MS = 10
DEFAULT_WORKERS = Settings().scheduler_workers


@dataclass(frozen=True)
class SchedulerRun:
    connections: int
    workers: int
    requests: int
    jobs_queued: int
    seconds: float
    # The process's CPU time over the run (the replayed answers cost none): what a Lambda's share of a vCPU divides.
    cpu_seconds: float

    @property
    def share_of_timeout(self) -> float:
        return self.seconds / SCHEDULER.timeout.to_seconds()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"share_of_timeout": self.share_of_timeout}


def measure(sizes: Sequence[int], latency_ms: float, workers: int) -> list[SchedulerRun]:
    """The hourly run at each size, one request at a time and ``workers`` at a time."""
    now = datetime.now(UTC).replace(minute=20, second=0, microsecond=0)
    return [run for size in sizes for run in _measure_size(size, latency_ms / 1000, workers, now)]


def _measure_size(size: int, latency_s: float, workers: int, now: datetime) -> list[SchedulerRun]:
    with embedded_aws():
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        settings = create_resources(clients, clients.settings)
        say(f"registering {size:,} connections...")
        _register(ClientFactory(boto3.Session(), settings=settings), size, now)
        # Recorded once, replayed for the timed runs: the emulator runs in this process, and its own work would
        # otherwise compete with the scheduler's threads for the same interpreter (as devtools.benchmark does).
        answers = RecordedAnswers()
        run_hourly(
            ClientFactory(boto3.Session(), settings=settings, hooks=answers.recording_hooks()), settings, now, now
        )
        runs = []
        for count in (1, workers):
            latency = SimulatedLatency(latency_s)
            hooks = [*latency.hooks(), *answers.replay_hooks()]
            timed = ClientFactory(boto3.Session(), settings=settings, hooks=hooks)
            run_settings = settings.model_copy(update={"scheduler_workers": count})
            started, cpu_started = time.perf_counter(), time.process_time()
            run = run_hourly(timed, run_settings, now, now)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            runs.append(SchedulerRun(size, count, latency.requests, run.collect.jobs, seconds, cpu))
            say(f"{size:,} connections, {count} at a time: {seconds:.1f} s, {latency.requests:,} requests")
        return runs


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
        f"scheduler's hourly run (timeout {SCHEDULER.timeout.to_seconds():.0f} s)",
        "connections  at a time  requests  jobs queued  seconds  CPU seconds  share of the timeout",
        "-----------  ---------  --------  -----------  -------  -----------  --------------------",
    ]
    lines += [
        f"{r.connections:>11,}  {r.workers:>9}  {r.requests:>8,}  {r.jobs_queued:>11,}  {r.seconds:>7.1f}  "
        f"{r.cpu_seconds:>11.1f}  {r.share_of_timeout:>20.2f}"
        for r in runs
    ]
    return "\n".join(lines)


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
