"""The calculator's throughput and the functions' peak memory, on the benchmark's fleet (``make benchmark``).

A fleet is seeded on an embedded AWS and collected once, every answer recorded (``devtools.benchmark``). Then:

- the collector's peak memory: one more collection of the connection-hour, on the recorded answers (client only:
  the emulator's own allocations are not the collector's), under ``tracemalloc``;
- the calculator's: the builtin estimate and the roll-ups of the hour's usage records, under ``tracemalloc``;
- the calculator's throughput: the builtin estimate of the records, on one core, repeated for about two seconds.

Peak memory is what Python allocated at most during the work, above what the process held before; a function
needs it on top of what its handler's import holds (``devtools.cold_starts``, the ``rss`` column).

``python -m devtools.lambda_sizing`` prints them for the 10,000-resource fleet.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3

from carbonmeter import emissions
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.providers import BuiltinProvider
from carbonmeter.models import UsageRecord, previous_whole_hour
from carbonmeter.settings import Settings
from devtools.aws.server import embedded_aws
from devtools.benchmark import DEFAULT_DATAPOINTS_LIMIT, DEFAULT_REGIONS, RecordedAnswers, build_fleet, run_collection
from devtools.progress import say as _say

DEFAULT_SIZE = 10_000
THROUGHPUT_TARGET = 50_000.0  # usage records per second, issue 15
MIB = 1024 * 1024
_THROUGHPUT_SECONDS = 2.0


@dataclass(frozen=True)
class SizingFigures:
    size: int
    regions: int
    usage_records: int
    datapoints_in_window: bool
    collector_peak_mib: float
    calculator_peak_mib: float
    records_per_second: float

    @property
    def throughput_ratio(self) -> float:
        return self.records_per_second / THROUGHPUT_TARGET


def peak_mib(work: Callable[[], object]) -> float:
    """The most memory Python allocated while ``work`` ran, above what was allocated before (MiB)."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MIB


def records_per_second(records: Sequence[UsageRecord], provider: BuiltinProvider) -> float:
    """The builtin estimate's throughput on ``records``, repeated for about two seconds of one core.

    Timed in the process's CPU time, not the wall clock's: one thread runs it, so that is one core's time, and a
    machine shared with other work does not count the time this process waited for a core.
    """
    provider.estimate(records[:100])  # the coefficients' tables read once, as a warm container has them
    estimated, started = 0, time.process_time()
    while (elapsed := time.process_time() - started) < _THROUGHPUT_SECONDS:
        provider.estimate(records)
        estimated += len(records)
    return estimated / elapsed


def calculator_figures(records: Sequence[UsageRecord]) -> tuple[float, float]:
    """The calculator's peak memory (MiB) and records per second, in a fresh interpreter as a container is.

    Not in this process: it still holds the emulator's objects, whose garbage collection would be counted.
    """
    with tempfile.TemporaryDirectory(prefix="sizing-") as work:
        path = Path(work) / "records.pickle"
        path.write_bytes(pickle.dumps(tuple(records)))
        code = "import sys; from devtools.lambda_sizing import _calculator_child; _calculator_child(sys.argv[1])"
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    return figures["peak_mib"], figures["records_per_second"]


def _calculator_child(path: str) -> None:
    # The handler first, as a container imports it (it freezes what it imported out of the garbage collector's
    # reach), then the hour's records, as read for a message.
    importlib.import_module("functions.calculator.handler")
    records: tuple[UsageRecord, ...] = pickle.loads(Path(path).read_bytes())  # noqa: S301 (our own file, just written)
    provider = BuiltinProvider()
    rate = records_per_second(records, provider)
    peak = peak_mib(lambda: calculate_hour(records, provider))
    print(json.dumps({"peak_mib": peak, "records_per_second": rate}))


def calculate_hour(records: Sequence[UsageRecord], provider: BuiltinProvider) -> None:
    """The calculator's own work on an hour's records: estimate, then roll up (storing is DynamoDB's)."""
    emissions.rollup(provider.estimate(records))


def measure(
    size: int = DEFAULT_SIZE,
    regions: Sequence[str] = DEFAULT_REGIONS,
    hour: datetime | None = None,
    *,
    datapoints_limit: int = DEFAULT_DATAPOINTS_LIMIT,
    say: Callable[[str], None] = _say,
) -> SizingFigures:
    hour = hour or previous_whole_hour(datetime.now(UTC))
    in_window = size <= datapoints_limit
    with embedded_aws():
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        say(f"[sizing] seeding {size:,} resources over {len(regions)} regions")
        fleet = build_fleet(clients, size, regions, hour, datapoints_in_window=in_window)
        answers = RecordedAnswers()
        workers = len(regions)
        say("[sizing] collecting from the emulator, recording its answers")
        recorded = run_collection(clients, fleet, workers=workers, hooks=answers.recording_hooks())
        say(f"[sizing] the collector's peak memory on {len(answers):,} recorded answers")
        collector = peak_mib(lambda: run_collection(clients, fleet, workers=workers, hooks=answers.replay_hooks()))
    records = recorded.records
    say(f"[sizing] the calculator's peak memory and throughput on {len(records):,} usage records")
    calculator, rate = calculator_figures(records)
    return SizingFigures(
        size=size,
        regions=len(regions),
        usage_records=len(records),
        datapoints_in_window=in_window,
        collector_peak_mib=collector,
        calculator_peak_mib=calculator,
        records_per_second=rate,
    )


def table(figures: SizingFigures) -> list[str]:
    return [
        f"fleet {figures.size:,} resources over {figures.regions} regions: {figures.usage_records:,} usage records"
        + ("" if figures.datapoints_in_window else " (datapoints outside the hour: CPU at the default)"),
        f"collector peak memory, one connection-hour (client only): {figures.collector_peak_mib:,.0f} MiB",
        f"calculator peak memory, the hour's estimate and roll-ups: {figures.calculator_peak_mib:,.0f} MiB",
        f"calculator, builtin estimate on one core: {figures.records_per_second:,.0f} records/s"
        f" ({figures.throughput_ratio:.2f}x the {THROUGHPUT_TARGET:,.0f} target)",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.lambda_sizing", description=__doc__)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="resources in the fleet (default 10000)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    print("\n".join(table(measure(args.size))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
