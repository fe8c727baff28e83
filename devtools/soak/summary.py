"""The soak's printed figures: the two ledgers side by side, the faults injected, the pipeline's counts, the checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from carbonmeter import report
from carbonmeter.models import HOUR, hour_key
from devtools.aws.resources import CALCULATE_QUEUE, COLLECT_QUEUE
from devtools.soak.checks import Check
from devtools.soak.ledger import FIGURES
from devtools.soak.options import SoakOptions
from devtools.soak.run import RunResult


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
                    for name in FIGURES
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
