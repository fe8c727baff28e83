"""The generated part of ``docs/comparison.md``: provenance, the tables of figures and ratios, the causes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import moto

from carbonmeter.emissions import methodology as m
from carbonmeter.services import ec2
from carbonmeter.services.ec2 import Ec2Usage
from devtools.comparison.causes import RATIO_HIGH, RATIO_LOW, Cause, Finding, findings, outside_bounds
from devtools.comparison.rows import BOAVIZTA, CCF, METRICS, OPERATIONAL, REFERENCES, Metric, Row, Run


def render(run: Run) -> str:
    """The generated part of ``docs/comparison.md``: provenance, four tables and the differences by cause."""
    sections = [
        _provenance(run),
        "### Cases\n\n" + _cases_table(run.rows),
        *(_metric_section(run.rows, metric) for metric in METRICS),
        "### Ratios outside 0.5-2x, by cause\n\n" + _findings_table(findings(run.rows)),
    ]
    return "\n\n".join(sections) + "\n"


def _provenance(run: Run) -> str:
    return (
        f"Generated on {run.date} by `python -m devtools.comparison`: builtin = CarbonMeter "
        f"`{m.METHODOLOGY_VERSION}`; Boavizta = Boavizta API server `{run.boavizta_version}` through CarbonMeter's "
        "boavizta provider; CCF = Cloud Carbon Footprint's formula with CCF's coefficients (commit b7a049c). "
        f"Instance sizes from moto {moto.__version__}'s DescribeInstanceTypes data. One instance-hour per row. "
        f"Ratios are builtin / other; **bold** ones are outside {RATIO_LOW:g}-{RATIO_HIGH:g}x; n/a: the other "
        "estimate has no figure of its own (see the last table)."
    )


def _cases_table(rows: Sequence[Row]) -> str:
    header = ["#", "instance type", "region", "load %", "vCPUs", "GiB", "GPUs", "builtin flags", "CCF notes"]
    return _table(header, [_case_cells(row, ec2.SLICE.details_of(row.usage)) for row in rows])


def _case_cells(row: Row, details: Ec2Usage) -> list[str]:
    return [
        str(row.number),
        f"`{row.case.instance_type}`",
        row.case.region,
        f"{row.case.load_pct:g}",
        f"{details.vcpus or 0:g}",
        f"{details.memory_gib or 0:g}",
        f"{details.gpus or 0:g} {details.gpu_model or ''}".strip(),
        _notes(row.builtin.notes),
        _notes(row.ccf.notes),
    ]


def _metric_section(rows: Sequence[Row], metric: Metric) -> str:
    header = ["#", "instance type", "region", "load %"]
    if metric is OPERATIONAL:
        header += ["grid g/kWh builtin / Boavizta / CCF"]
    header += ["builtin", BOAVIZTA, CCF, f"builtin / {BOAVIZTA}", f"builtin / {CCF}"]
    lines = []
    for row in rows:
        line = [str(row.number), f"`{row.case.instance_type}`", row.case.region, f"{row.case.load_pct:g}"]
        if metric is OPERATIONAL:
            line.append(" / ".join(_figure(f.grid_kgco2e_per_kwh * 1000) for f in (row.builtin, row.boavizta, row.ccf)))
        line += [_figure(metric.value(f) * metric.scale) for f in (row.builtin, row.boavizta, row.ccf)]
        line += [_ratio(row.ratio(metric, reference)) for reference in REFERENCES]
        lines.append(line)
    return f"### {metric.title} ({metric.unit} per instance-hour)\n\n" + _table(header, lines)


def _findings_table(found: Sequence[Finding]) -> str:
    by_cause: dict[Cause, dict[str, list[str]]] = {}
    for finding in found:
        label = f"{finding.metric.name} vs {finding.reference}"
        ratio = "n/a" if finding.ratio is None else f"{finding.ratio:.2f}"
        for cause in finding.causes:
            by_cause.setdefault(cause, {}).setdefault(label, []).append(f"#{finding.row.number} {ratio}")
    if not by_cause:
        return f"Every ratio is within {RATIO_LOW:g}-{RATIO_HIGH:g}x."
    lines = [
        [f"`{cause.key}`", cause.text, "<br>".join(f"{label}: {', '.join(items)}" for label, items in groups.items())]
        for cause, groups in by_cause.items()
    ]
    return _table(["cause", "what differs", "rows and ratios (builtin / other)"], lines)


def _notes(notes: Sequence[str]) -> str:
    return "<br>".join(f"`{note}`" for note in notes)


def _figure(value: float) -> str:
    """Three significant digits, never in exponent notation (the figures span 10^-3 to 10^3)."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def _ratio(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    text = f"{ratio:.2f}"
    return f"**{text}**" if outside_bounds(ratio) else text


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    rows = [header, ["---"] * len(header), *lines]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows)
