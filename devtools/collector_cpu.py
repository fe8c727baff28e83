"""The collector's own CPU at growing fleets (issue #15, item 3): before and after, its targets, and a profile.

``make benchmark`` times ``collect()`` on recorded answers ("client only": no emulator, no network), so only the
collector's work is measured. This module holds the "before" figures that work is compared with when the old code
cannot be measured again in the same run (``devtools.collector_before``), prints the before/after table with the
ratios to the targets, and profiles one client-only collection with cProfile
(``python -m devtools.benchmark --profile-collector``).
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from carbonmeter import report
from devtools.collector_before import BEFORE_COMMIT, BeforeRun

# Client-only collect() seconds as docs/benchmarks.md recorded them before this work, for the fleet of that time
# (EC2, EBS, Lambda, S3 and RDS only: 17,500 records at 10,000).
DOCUMENTED_BEFORE_SECONDS: dict[int, float] = {100: 0.81, 1_000: 1.80, 10_000: 10.10}
# Measured on today's fleet (every service seeded: 15,640 records, 2,268 API calls at 10,000) with the code as it
# was, on the recorded answers, before anything was changed: wall seconds, the median of three runs, on the shared
# two-core machine of that day (docs/benchmarks.md, "The collector's CPU"). What stands in when the benchmark cannot
# measure that code again in its own run (``devtools.collector_before``).
BASELINE_SECONDS: dict[int, float] = {10_000: 14.64}
# And with 50 ms per request: regions in parallel 43.8 s, one after another 142.0 s.
BASELINE_SPEEDUP: dict[int, float] = {10_000: 3.24}
# Item 3's targets: a third of the time, and with 50 ms per request, regions in parallel >= 2.5x regions in turn.
TARGET_RATIO = 1 / 3
TARGET_SPEEDUP = 2.5


@dataclass(frozen=True)
class CpuFigures:
    """One fleet's client-only collection, after, beside its "before" figures.

    ``before`` is the old code measured in the same run (``devtools.collector_before``); without it, the figures
    recorded above stand in, measured on another machine.
    """

    size: int
    records: int
    client_seconds: float
    client_cpu_seconds: float
    speedup: float
    before: BeforeRun | None = None

    @property
    def baseline_seconds(self) -> float | None:
        if self.before is not None:
            return self.before.client_seconds
        return BASELINE_SECONDS.get(self.size)

    @property
    def baseline_speedup(self) -> float | None:
        if self.before is not None:
            return self.before.speedup
        return BASELINE_SPEEDUP.get(self.size)

    @property
    def documented_seconds(self) -> float | None:
        return DOCUMENTED_BEFORE_SECONDS.get(self.size)

    @property
    def ratio(self) -> float | None:
        """After over the baseline (the target is a third or less)."""
        baseline = self.baseline_seconds
        return self.client_seconds / baseline if baseline else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _speedup(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _met(met: bool) -> str:
    return "target met" if met else "target not met"


def cpu_table(figures: Iterable[CpuFigures]) -> str:
    """Before and after, each with its ratio to the target."""
    rows = []
    for f in figures:
        ratio = f.ratio
        rows.append(
            [
                f"{f.size:,}",
                f"{f.records:,}",
                _seconds(f.documented_seconds),
                _seconds(BASELINE_SECONDS.get(f.size)),
                _seconds(f.before.client_seconds if f.before else None),
                f"{f.client_seconds:.2f}",
                f"{f.client_cpu_seconds:.2f}",
                "-" if ratio is None else f"{ratio:.2f} ({_met(ratio <= TARGET_RATIO)})",
                _speedup(f.baseline_speedup),
                f"{f.speedup:.2f}x ({_met(f.speedup >= TARGET_SPEEDUP)})",
            ]
        )
    headers = [
        "fleet",
        "records",
        "before: docs s",
        "before: recorded s",
        "before: this run s",
        "after s",
        "after CPU s",
        "after/before (target 0.33)",
        "before: speed-up",
        "parallel speed-up (target 2.5x)",
    ]
    heading = (
        "The collector's CPU: client-only collect() before (as docs/benchmarks.md recorded it for the fleet of then; "
        f"recorded on this fleet with the code before the work, on another machine; that code, {BEFORE_COMMIT[:10]}, "
        "measured in this run) and after (this run). The ratio is to this run's before where there is one:"
    )
    return "\n".join([heading, "", report.table(headers, rows)])


# What a line of the profile is grouped under: the first rule whose fragment is in "file:function" wins.
COST_CENTRES: tuple[tuple[str, str], ...] = (
    ("botocore: answers parsed (XML: EC2, RDS, S3, ...)", "parsers.py:_parse_body_as_xml"),
    ("botocore: every answer parsed (XML, JSON, CBOR)", "parsers.py:parse"),
    ("botocore: timestamps parsed", "parsers.py:_handle_timestamp"),
    ("botocore: requests checked (validation)", "validate.py:serialize_to_request"),
    ("botocore: requests serialised (JSON, query, XML)", "serialize.py:serialize_to_request"),
    ("botocore: requests signed", "signers.py:sign"),
    ("boto3: clients created", "session.py:client"),
    ("GetMetricData: planned, sent, answers parsed and split back", "cloudwatch.py:fetch"),
    ("CarbonMeter: usage records built", "collection.py:_usage"),
)


@dataclass(frozen=True)
class ProfileFigures:
    """One profiled client-only collection: its seconds under the profiler, the cost centres' shares, the text."""

    seconds: float
    centres: tuple[tuple[str, float], ...]
    text: str


def profile(run: Callable[[], object], *, top: int = 25) -> ProfileFigures:
    """cProfile of ``run()`` (in this thread): the cost centres' cumulative shares and the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler)
    cumulative: dict[str, float] = {}
    total = 0.0
    for (filename, _, function), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{filename.rsplit('/', 1)[-1]}:{function}"
        cumulative[key] = cumulative.get(key, 0.0) + cum
        total = max(total, cum)
    centres = tuple(
        (label, cumulative.get(fragment, 0.0) / total if total else 0.0) for label, fragment in COST_CENTRES
    )
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return ProfileFigures(total, centres, out.getvalue())


def profile_table(size: int, figures: ProfileFigures) -> str:
    rows: Sequence[list[object]] = [[label, f"{share * 100:.0f} %"] for label, share in figures.centres]
    heading = (
        f"Where the client-only collection of {size:,} resources spends its CPU (cProfile, {figures.seconds:.1f} s "
        "under the profiler; shares are cumulative and overlap: timestamps are part of parsing):"
    )
    return "\n".join([heading, "", report.table(["cost", "share"], rows), "", figures.text])
