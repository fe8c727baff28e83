"""Summing emission records and rendering them for people (tables) and programs (JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonmeter.aws import ApiCallCounter
from carbonmeter.cloudwatch import USD_PER_1000_METRICS
from carbonmeter.models import EmissionRecord, Rollup


@dataclass
class Totals:
    hours: float = 0.0
    energy_kwh: float = 0.0
    operational_kgco2e: float = 0.0
    embodied_kgco2e: float = 0.0
    flags: set[str] = field(default_factory=set)
    providers: set[str] = field(default_factory=set)

    def add(self, hours: float, energy: float, operational: float, embodied: float) -> None:
        self.hours += hours
        self.energy_kwh += energy
        self.operational_kgco2e += operational
        self.embodied_kgco2e += embodied

    def figures(self) -> dict[str, float]:
        return {
            "energy_kwh": self.energy_kwh,
            "operational_kgco2e": self.operational_kgco2e,
            "embodied_kgco2e": self.embodied_kgco2e,
        }


ResourceKey = tuple[str, str, str, str]


def by_resource(records: Iterable[EmissionRecord]) -> dict[ResourceKey, Totals]:
    """Totals per (service, region, resource id, resource type) over every hour given."""
    totals: dict[ResourceKey, Totals] = {}
    for r in records:
        entry = totals.setdefault((str(r.service), r.region, r.resource_id, r.resource_type), Totals())
        entry.add(r.hours, r.energy_kwh, r.operational_kgco2e, r.embodied_kgco2e)
        entry.flags.update(r.flags)
        entry.providers.add(r.provider)
    return dict(sorted(totals.items()))


def by_region_service(rollups: Iterable[Rollup]) -> dict[tuple[str, str], Totals]:
    totals: dict[tuple[str, str], Totals] = {}
    for r in rollups:
        totals.setdefault((r.region, str(r.service)), Totals()).add(
            1.0, r.energy_kwh, r.operational_kgco2e, r.embodied_kgco2e
        )
    return dict(sorted(totals.items()))


def grand_total(totals: Iterable[Totals]) -> Totals:
    total = Totals()
    for t in totals:
        total.add(0.0, t.energy_kwh, t.operational_kgco2e, t.embodied_kgco2e)
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
    """A plain-text table, numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in cells) and bool(cells) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


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
    rows = [
        [region, service, t.energy_kwh, t.operational_kgco2e, t.embodied_kgco2e]
        for (region, service), t in totals.items()
    ]
    total = grand_total(totals.values())
    rows.append(["TOTAL", "", total.energy_kwh, total.operational_kgco2e, total.embodied_kgco2e])
    return table(["region", "service", "energy kWh", "operational kgCO2e", "embodied kgCO2e"], rows)


def api_calls_table(counter: ApiCallCounter) -> str:
    rows: list[list[Any]] = [[op, n] for op, n in counter.calls.items()]
    rows.append(["TOTAL", counter.total_calls])
    return table(["API call", "count"], rows)
