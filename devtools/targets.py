"""Issue #15's figures side by side, each beside its target: the last table ``make benchmark`` prints.

Every row comes from the run's own measurements (none is re-measured or remembered here); a part the run skipped
(``--no-lambda``, ``--no-scheduler``, ``--no-windows``, a fleet size left out) leaves its rows out. ``ratio`` is
the figure over its target, so 1.00 is the target exactly; ``at most`` targets are met at or below 1, ``at
least`` ones at or above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from carbonmeter import report
from devtools import collector_cpu, lambda_sizing
from devtools.cold_starts import ImportTime
from devtools.lambda_benchmark import LambdaFigures
from devtools.scheduler_scale import SchedulerRun
from devtools.window_costs import WindowFigures
from infra.constants import CALCULATOR, COLLECTOR, SCHEDULER

# The fleet the collector's targets are stated at.
CPU_FLEET = 10_000
# "Well inside its timeout": a third of it, room for a slow hour's retries and a grown fleet.
SCHEDULER_SHARE = 1 / 3
# What Lambda unzips of a function and its layers at most (the Lambda quotas page).
LAYER_LIMIT_BYTES = 250 * 1024 * 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class TargetRow:
    what: str
    measured: str
    target: str
    ratio: float
    direction: Literal["at most", "at least"]

    @property
    def met(self) -> bool:
        return self.ratio <= 1 if self.direction == "at most" else self.ratio >= 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"met": self.met}


def window_rows(windows: Sequence[WindowFigures]) -> list[TargetRow]:
    """Each window's metrics a month against hourly's over the window's hours (24 h: 1/24 of hourly)."""
    hourly = next((f for f in windows if f.window_hours == 1), None)
    if hourly is None or not hourly.metrics_per_month:
        return []
    return [
        TargetRow(
            f"GetMetricData, {f.window_hours} h window (per 1,000 resources)",
            f"{f.metrics_per_month_per_1000_resources:,.0f} metrics, USD {f.usd_per_month_per_1000_resources:.2f}"
            " a month",
            f"1/{f.window_hours} of hourly",
            f.metrics_per_month / hourly.metrics_per_month * f.window_hours,
            "at most",
        )
        for f in windows
        if f.window_hours != 1
    ]


def collector_rows(cpu: Sequence[collector_cpu.CpuFigures]) -> list[TargetRow]:
    fleet = next((f for f in cpu if f.size == CPU_FLEET), None)
    if fleet is None or fleet.ratio is None:
        return []
    return [
        TargetRow(
            f"client-only collection, {CPU_FLEET:,} resources",
            f"{fleet.client_seconds:.2f} s (before {fleet.baseline_seconds:.2f} s,"
            f" {'this run' if fleet.before else 'recorded on another machine'})",
            "a third of before",
            fleet.ratio / collector_cpu.TARGET_RATIO,
            "at most",
        ),
        TargetRow(
            "regions in parallel over in turn, 50 ms a request",
            f"{fleet.speedup:.2f}x",
            f"{collector_cpu.TARGET_SPEEDUP:g}x",
            fleet.speedup / collector_cpu.TARGET_SPEEDUP,
            "at least",
        ),
    ]


def _import_row(time: ImportTime, boto3_ms: float) -> TargetRow | None:
    if time.target_ms is None:
        return None
    return TargetRow(
        f"{time.name} import",
        f"{time.median_ms:.0f} ms ({time.median_ms / boto3_ms:.2f}x boto3's {boto3_ms:.0f} ms)",
        f"{time.target_ms:.0f} ms",
        time.median_ms / time.target_ms,
        "at most",
    )


def lambda_rows(figures: LambdaFigures) -> list[TargetRow]:
    sizing = figures.sizing
    rows = [
        TargetRow(
            "calculator, builtin estimate",
            f"{sizing.records_per_second:,.0f} records/s",
            f"{lambda_sizing.THROUGHPUT_TARGET:,.0f} records/s",
            sizing.throughput_ratio,
            "at least",
        ),
    ]
    rows += [row for time in figures.imports if (row := _import_row(time, figures.boto3_ms)) is not None]
    resident = {time.name: time.rss_mib for time in figures.imports}
    for name, peak, spec in (
        ("collector", sizing.collector_peak_mib, COLLECTOR),
        ("calculator", sizing.calculator_peak_mib, CALCULATOR),
    ):
        used = resident.get(name, 0.0) + peak
        rows.append(
            TargetRow(
                f"{name} peak memory, {sizing.size:,} resources",
                f"{used:.0f} MiB (imports {resident.get(name, 0.0):.0f} + work {peak:.0f})",
                f"its {spec.memory_mb:,} MB",
                used * MIB / (spec.memory_mb * 1_000_000),
                "at most",
            )
        )
    rows.append(
        TargetRow(
            "layer, unzipped",
            f"{figures.layer.unzipped_bytes / MIB:.1f} MiB ({figures.layer.zipped_bytes / MIB:.1f} MiB zipped)",
            "Lambda's 250 MiB",
            figures.layer.unzipped_bytes / LAYER_LIMIT_BYTES,
            "at most",
        )
    )
    return rows


def scheduler_rows(runs: Sequence[SchedulerRun]) -> list[TargetRow]:
    """The longest invocation (the hourly run or its slowest page) at the most connections measured."""
    invocations = [run for run in runs if run.invocation]
    if not invocations:
        return []
    most = max(run.connections for run in invocations)
    run = max((r for r in invocations if r.connections == most), key=lambda r: r.seconds)
    limit = SCHEDULER.timeout.to_seconds() * SCHEDULER_SHARE
    return [
        TargetRow(
            f"scheduler's longest invocation, {run.connections:,} connections",
            f"{run.step}: {run.seconds:.1f} s, {run.cpu_seconds:.1f} s of CPU ({run.pages:,} pages)",
            f"a third of its {SCHEDULER.timeout.to_seconds():.0f} s timeout",
            run.seconds / limit,
            "at most",
        )
    ]


def rows(
    cpu: Sequence[collector_cpu.CpuFigures],
    lambda_figures: LambdaFigures | None,
    windows: Sequence[WindowFigures],
    scheduler_runs: Sequence[SchedulerRun],
) -> list[TargetRow]:
    return [
        *window_rows(windows),
        *collector_rows(cpu),
        *([] if lambda_figures is None else lambda_rows(lambda_figures)),
        *scheduler_rows(scheduler_runs),
    ]


def table(found: Sequence[TargetRow]) -> str:
    cells = [
        [r.what, r.measured, f"{r.direction} {r.target}", f"{r.ratio:.2f}", "yes" if r.met else "no"] for r in found
    ]
    heading = "Issue #15's targets, from this run (ratio: the figure over its target)"
    return "\n".join([heading, "", report.table(["figure", "measured", "target", "ratio", "met"], cells)])
