"""Summing emission records and rendering them for people (tables) and programs (JSON).

Every figure is summed with its bounds: docs/methodology.md#uncertainty-low-and-high-bounds gives the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, Protocol

from carbonmeter.aws import ApiCallCounter
from carbonmeter.cloudwatch import USD_PER_1000_METRICS
from carbonmeter.models import EmissionRecord, Rollup

# One line under every table of estimates; the anchor is the heading "Uncertainty: low and high bounds".
RANGES_NOTE = (
    "central [low, high]: every record at its low, or at its high; "
    "see docs/methodology.md#uncertainty-low-and-high-bounds"
)


class _LowHigh(Protocol):
    @property
    def low(self) -> float: ...

    @property
    def high(self) -> float: ...


class _Figures(Protocol):
    """What a total adds up: an emission record, a roll-up or another total."""

    @property
    def energy_kwh(self) -> float: ...

    @property
    def operational_kgco2e(self) -> float: ...

    @property
    def embodied_kgco2e(self) -> float: ...

    @property
    def energy_kwh_range(self) -> _LowHigh | None: ...

    @property
    def operational_kgco2e_range(self) -> _LowHigh | None: ...

    @property
    def embodied_kgco2e_range(self) -> _LowHigh | None: ...


@dataclass
class Bounds:
    """The low and high sums of one figure."""

    low: float = 0.0
    high: float = 0.0

    def add(self, central: float, bounds: _LowHigh | None) -> None:
        # Full correlation, as in roll-ups: the records share coefficients, so their errors move together.
        # A figure without bounds (a provider that gives none) counts at its central value on both sides.
        self.low += central if bounds is None else bounds.low
        self.high += central if bounds is None else bounds.high


class Estimate(NamedTuple):
    """A central figure and its bounds, as a table cell."""

    central: float
    low: float
    high: float

    @classmethod
    def of(cls, central: float, bounds: Bounds) -> Estimate:
        return cls(central, bounds.low, bounds.high)


@dataclass
class Totals:
    """Sums shaped like the records they add up: central figures, and their bounds under ``*_range``."""

    hours: float = 0.0
    energy_kwh: float = 0.0
    operational_kgco2e: float = 0.0
    embodied_kgco2e: float = 0.0
    energy_kwh_range: Bounds = field(default_factory=Bounds)
    operational_kgco2e_range: Bounds = field(default_factory=Bounds)
    embodied_kgco2e_range: Bounds = field(default_factory=Bounds)
    flags: set[str] = field(default_factory=set)
    providers: set[str] = field(default_factory=set)

    def add(self, hours: float, figures: _Figures) -> None:
        self.hours += hours
        self.energy_kwh += figures.energy_kwh
        self.energy_kwh_range.add(figures.energy_kwh, figures.energy_kwh_range)
        self.operational_kgco2e += figures.operational_kgco2e
        self.operational_kgco2e_range.add(figures.operational_kgco2e, figures.operational_kgco2e_range)
        self.embodied_kgco2e += figures.embodied_kgco2e
        self.embodied_kgco2e_range.add(figures.embodied_kgco2e, figures.embodied_kgco2e_range)

    def figures(self) -> dict[str, Any]:
        """The JSON of the figures: the central ones under their own names, ``{low, high}`` under ``*_range``."""
        return {
            "energy_kwh": self.energy_kwh,
            "operational_kgco2e": self.operational_kgco2e,
            "embodied_kgco2e": self.embodied_kgco2e,
            "energy_kwh_range": asdict(self.energy_kwh_range),
            "operational_kgco2e_range": asdict(self.operational_kgco2e_range),
            "embodied_kgco2e_range": asdict(self.embodied_kgco2e_range),
        }

    def estimates(self) -> list[Estimate]:
        """Energy, operational and embodied figures with their bounds, in the tables' column order."""
        return [
            Estimate.of(self.energy_kwh, self.energy_kwh_range),
            Estimate.of(self.operational_kgco2e, self.operational_kgco2e_range),
            Estimate.of(self.embodied_kgco2e, self.embodied_kgco2e_range),
        ]


ResourceKey = tuple[str, str, str, str]


def by_resource(records: Iterable[EmissionRecord]) -> dict[ResourceKey, Totals]:
    """Totals per (service, region, resource id, resource type) over every hour given."""
    totals: dict[ResourceKey, Totals] = {}
    for r in records:
        entry = totals.setdefault((str(r.service), r.region, r.resource_id, r.resource_type), Totals())
        entry.add(r.hours, r)
        entry.flags.update(r.flags)
        entry.providers.add(r.provider)
    return dict(sorted(totals.items()))


def by_region_service(rollups: Iterable[Rollup]) -> dict[tuple[str, str], Totals]:
    totals: dict[tuple[str, str], Totals] = {}
    for r in rollups:
        totals.setdefault((r.region, str(r.service)), Totals()).add(1.0, r)
    return dict(sorted(totals.items()))


def grand_total(totals: Iterable[Totals]) -> Totals:
    total = Totals()
    for t in totals:
        total.add(0.0, t)
    return total


def estimate_document(records: Iterable[EmissionRecord], counter: ApiCallCounter) -> dict[str, Any]:
    """The JSON document ``python -m carbonmeter estimate --format json`` prints."""
    resources = by_resource(records)
    return {
        "resources": [
            {
                "service": service,
                "region": region,
                "resource_id": resource_id,
                "resource_type": resource_type,
                "hours": t.hours,
                **t.figures(),
                "flags": sorted(t.flags),
                "providers": sorted(t.providers),
            }
            for (service, region, resource_id, resource_type), t in resources.items()
        ],
        "totals": grand_total(resources.values()).figures(),
        "api_calls": counter.calls,
        "metrics_requested": counter.metrics_requested,
        "cloudwatch_cost_usd": cloudwatch_cost(counter.metrics_requested),
    }


def cloudwatch_cost(metrics_requested: int) -> float:
    return metrics_requested * USD_PER_1000_METRICS / 1000


def table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A plain-text table, numbers right-aligned; an :class:`Estimate` shows as ``central [low, high]``."""
    values = [list(row) for row in rows]
    columns = [_column([row[i] for row in values]) for i in range(len(headers))]
    widths = [max([len(h)] + [len(c) for c in cells]) for h, (cells, _) in zip(headers, columns, strict=True)]

    def line(texts: Iterable[str]) -> str:
        return "  ".join(
            t.rjust(w) if right else t.ljust(w) for t, w, (_, right) in zip(texts, widths, columns, strict=True)
        )

    rule = "  ".join("-" * w for w in widths)
    rows_text = [line(row) for row in zip(*(cells for cells, _ in columns), strict=True)]
    return "\n".join([line(headers), rule, *rows_text])


def _column(values: list[Any]) -> tuple[list[str], bool]:
    """A column's cells and whether they align right (numbers do)."""
    if values and all(isinstance(v, Estimate) for v in values):
        return _estimate_cells(values), True
    cells = [_cell(v) for v in values]
    return cells, bool(cells) and all(_is_number(c) for c in cells)


def _estimate_cells(estimates: list[Estimate]) -> list[str]:
    # Each of central, low and high padded to its widest in the column, so the numbers line up.
    parts = [[_cell(x) for x in e] for e in estimates]
    central, low, high = (max(len(p[i]) for p in parts) for i in range(3))
    return [f"{c.rjust(central)} [{lo.rjust(low)}, {hi.rjust(high)}]" for c, lo, hi in parts]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def region_service_table(totals: Mapping[tuple[str, str], Totals]) -> str:
    rows: list[list[Any]] = [[region, service, *t.estimates()] for (region, service), t in totals.items()]
    rows.append(["TOTAL", "", *grand_total(totals.values()).estimates()])
    return _estimates_table(["region", "service"], ["energy kWh", "operational kgCO2e", "embodied kgCO2e"], rows)


def resource_table(totals: Mapping[ResourceKey, Totals]) -> str:
    """Per resource, as ``python -m carbonmeter estimate`` prints it (short headings: the ids are long)."""
    rows: list[list[Any]] = [
        [service, region, resource_id, resource_type, f"{t.hours:g}", *t.estimates()]
        for (service, region, resource_id, resource_type), t in totals.items()
    ]
    rows.append(["TOTAL", "", "", "", "", *grand_total(totals.values()).estimates()])
    return _estimates_table(
        ["service", "region", "resource", "type", "hours"], ["kWh", "op kgCO2e", "emb kgCO2e"], rows
    )


def _estimates_table(keys: list[str], figures: list[str], rows: list[list[Any]]) -> str:
    """A table whose last columns are estimates, and the line under it that says how to read them."""
    headers = [*keys, *(f"{figure} [low, high]" for figure in figures)]
    return f"{table(headers, rows)}\n\n{RANGES_NOTE}"


def api_calls_table(counter: ApiCallCounter) -> str:
    rows: list[list[Any]] = [[op, n] for op, n in counter.calls.items()]
    rows.append(["TOTAL", counter.total_calls])
    return table(["API call", "count"], rows)
