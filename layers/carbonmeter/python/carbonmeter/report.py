"""A window's emissions as an analyst reads them: summed with their bounds, then shown as text or JSON.

``from_records`` (an estimate's per-resource records) and ``from_rollups`` (the stored per-hour roll-ups) build the
same :class:`Report`; ``text`` and ``document`` present it. Both say what the figures are (window, methodology
version, grid factors, what the bounds mean), give the headline total (operational + embodied), show "n/a" where
the methodology does not model a figure, and count the flags. What the run cost in AWS calls is the operator's,
in its own section (``operations_text``, ``operations_document``).

Every figure is summed with its bounds: docs/methodology.md#uncertainty-low-and-high-bounds gives the rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from carbonmeter import __version__, monitoring
from carbonmeter.aws import ApiCallCounter
from carbonmeter.models import GLOBAL_REGION, HOUR, EmissionRecord, Rollup, Service, hour_key
from carbonmeter.periods import FIGURES as PERIOD_FIGURES
from carbonmeter.periods import Breakdown, Figure, Footprint
from carbonmeter.services import SLICES, flag_meaning
from carbonmeter.top_resources import TopResources

# What the bounds are, in one sentence; printed under every report and kept in its JSON.
BOUNDS = "every figure at its low, or every figure at its high; bounds, not a confidence interval"
# One line under every table of estimates; the anchor is the heading "Uncertainty: low and high bounds".
RANGES_NOTE = (
    "each figure: central [low, high] unit; how they add up: docs/methodology.md#uncertainty-low-and-high-bounds"
)
# The builtin methodology's grid factors: yearly averages of each region's grid (docs/methodology.md).
GRID_BASIS = "location-based"
# A figure the methodology does not model, in a table.
NOT_MODELLED = "n/a"
# The figure columns, the same in every report (each cell is central [low, high] and a unit).
FIGURE_COLUMNS = ("energy", "operational CO2e", "embodied CO2e", "total CO2e")
# Significant digits of a figure in a table (JSON keeps full precision, in kWh and kg).
DIGITS = 3

Quantity = Literal["energy", "mass"]
# Units from the largest down; a figure takes the first it is at least one of. Scales are kWh and kg. The
# smallest are for a Lambda function's hour, which can be a thousandth of a gram.
_UNITS: dict[Quantity, tuple[tuple[str, float], ...]] = {
    "energy": (("MWh", 1000.0), ("kWh", 1.0), ("Wh", 0.001), ("mWh", 0.000001)),
    "mass": (("t", 1000.0), ("kg", 1.0), ("g", 0.001), ("mg", 0.000001)),
}


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
    """A central figure and its bounds, as a table cell; ``quantity`` picks its units."""

    central: float
    low: float
    high: float
    quantity: Quantity = "mass"

    @classmethod
    def of(cls, central: float, bounds: Bounds, quantity: Quantity) -> Estimate:
        return cls(central, bounds.low, bounds.high, quantity)


class NotModelled(NamedTuple):
    """A figure the methodology does not model: "n/a" in a table, never a zero that reads as certain."""

    reason: str


def embodied_not_modelled(service: str) -> str | None:
    """Why the methodology gives ``service`` no embodied emissions (its slice says), or None."""
    try:
        piece = SLICES[Service(service)]
    except ValueError:  # a service this release does not know (stored by a newer one)
        return None
    return piece.embodied_not_modelled


@dataclass
class Totals:
    """Sums shaped like the records they add up: central figures, and their bounds under ``*_range``.

    ``service`` is set for a group of one service, which is what can make its embodied figure "not modelled".
    """

    service: str | None = None
    hours: float = 0.0
    # Resources in the group (from roll-ups: the most in any one hour).
    resources: int = 0
    energy_kwh: float = 0.0
    operational_kgco2e: float = 0.0
    embodied_kgco2e: float = 0.0
    energy_kwh_range: Bounds = field(default_factory=Bounds)
    operational_kgco2e_range: Bounds = field(default_factory=Bounds)
    embodied_kgco2e_range: Bounds = field(default_factory=Bounds)
    # Resources per flag (from roll-ups: the most in any one hour).
    flagged: dict[str, int] = field(default_factory=dict)
    providers: set[str] = field(default_factory=set)
    # Whether anything added had an embodied figure or bound other than zero (a provider may model what the
    # builtin methodology does not).
    embodied_given: bool = False

    def add(self, hours: float, figures: _Figures) -> None:
        self.hours += hours
        self.energy_kwh += figures.energy_kwh
        self.energy_kwh_range.add(figures.energy_kwh, figures.energy_kwh_range)
        self.operational_kgco2e += figures.operational_kgco2e
        self.operational_kgco2e_range.add(figures.operational_kgco2e, figures.operational_kgco2e_range)
        self.embodied_kgco2e += figures.embodied_kgco2e
        self.embodied_kgco2e_range.add(figures.embodied_kgco2e, figures.embodied_kgco2e_range)
        bounds = figures.embodied_kgco2e_range
        self.embodied_given = self.embodied_given or any(
            value != 0 for value in (figures.embodied_kgco2e, *((bounds.low, bounds.high) if bounds else ()))
        )

    def flag(self, counts: Mapping[str, int]) -> None:
        """Merge per-hour counts of flagged resources: a resource flagged every hour still counts once."""
        for name, count in counts.items():
            self.flagged[name] = max(self.flagged.get(name, 0), count)

    @property
    def embodied_not_modelled(self) -> str | None:
        """Why this group has no embodied figure, or None when it has one."""
        if self.service is None or self.embodied_given:
            return None
        return embodied_not_modelled(self.service)

    @property
    def total_kgco2e(self) -> float:
        """Operational + embodied: the headline figure."""
        return self.operational_kgco2e + self.embodied_kgco2e

    @property
    def total_kgco2e_range(self) -> Bounds:
        # Every figure at its low, or every one at its high: the parts' bounds add up.
        return Bounds(
            self.operational_kgco2e_range.low + self.embodied_kgco2e_range.low,
            self.operational_kgco2e_range.high + self.embodied_kgco2e_range.high,
        )

    def figures(self) -> dict[str, Any]:
        """The JSON of the figures: central ones under their own names, ``{low, high}`` under ``*_range``.

        A figure not modelled is null, with the reason under ``embodied_not_modelled``.
        """
        reason = self.embodied_not_modelled
        return {
            "energy_kwh": self.energy_kwh,
            "energy_kwh_range": asdict(self.energy_kwh_range),
            "operational_kgco2e": self.operational_kgco2e,
            "operational_kgco2e_range": asdict(self.operational_kgco2e_range),
            "embodied_kgco2e": None if reason else self.embodied_kgco2e,
            "embodied_kgco2e_range": None if reason else asdict(self.embodied_kgco2e_range),
            "embodied_not_modelled": reason,
            "total_kgco2e": self.total_kgco2e,
            "total_kgco2e_range": asdict(self.total_kgco2e_range),
        }

    def estimates(self) -> list[Estimate | NotModelled]:
        """Energy, operational, embodied and total with their bounds, in the tables' column order."""
        reason = self.embodied_not_modelled
        return [
            Estimate.of(self.energy_kwh, self.energy_kwh_range, "energy"),
            Estimate.of(self.operational_kgco2e, self.operational_kgco2e_range, "mass"),
            NotModelled(reason) if reason else Estimate.of(self.embodied_kgco2e, self.embodied_kgco2e_range, "mass"),
            Estimate.of(self.total_kgco2e, self.total_kgco2e_range, "mass"),
        ]


ResourceKey = tuple[str, str, str, str]
GroupKey = tuple[str, str]


def by_resource(records: Iterable[EmissionRecord]) -> dict[ResourceKey, Totals]:
    """Totals per (service, region, resource id, resource type) over every hour given."""
    totals: dict[ResourceKey, Totals] = {}
    for r in records:
        key = (str(r.service), r.region, r.resource_id, r.resource_type)
        entry = totals.setdefault(key, Totals(service=str(r.service), resources=1))
        entry.add(r.hours, r)
        entry.flag(dict.fromkeys(r.flags, 1))
        entry.providers.add(r.provider)
    return dict(sorted(totals.items()))


def by_region_service(rollups: Iterable[Rollup]) -> dict[GroupKey, Totals]:
    """Totals per (region, service) of stored roll-ups, one per hour."""
    totals: dict[GroupKey, Totals] = {}
    for r in rollups:
        entry = totals.setdefault((r.region, str(r.service)), Totals(service=str(r.service)))
        entry.add(1.0, r)
        entry.resources = max(entry.resources, r.resources)
        entry.flag(r.flagged_resources)
    return dict(sorted(totals.items()))


def groups_of(resources: Mapping[ResourceKey, Totals]) -> dict[GroupKey, Totals]:
    """Per-resource totals added up per (region, service)."""
    totals: dict[GroupKey, Totals] = {}
    for (service, region, _, _), t in resources.items():
        entry = totals.setdefault((region, service), Totals(service=service))
        entry.add(t.hours, t)
        entry.resources += 1
        for name in t.flagged:
            entry.flagged[name] = entry.flagged.get(name, 0) + 1
        entry.providers.update(t.providers)
    return dict(sorted(totals.items()))


# What a figure covers: the regions' data centres, or the global services' edge delivery and its network
# (CloudFront, region ``global``), which a reader should see apart.
SCOPE_DATA_CENTRE = "data centre"
SCOPE_EDGE_NETWORK = "edge and network"


def scope_of(region: str) -> str:
    return SCOPE_EDGE_NETWORK if region == GLOBAL_REGION else SCOPE_DATA_CENTRE


def grand_total(totals: Iterable[Totals]) -> Totals:
    total = Totals()
    for t in totals:
        total.add(0.0, t)
        total.resources += t.resources
    return total


@dataclass(frozen=True)
class Report:
    """One window's emissions: per region and service, per resource when known, and what the figures are."""

    start: datetime
    end: datetime
    groups: dict[GroupKey, Totals]
    # Per resource: an estimate has them; stored reports keep per-hour roll-ups only.
    resources: dict[ResourceKey, Totals] | None
    methodology_versions: tuple[str, ...]
    # Per region, the grid factors (kg CO2e per kWh) the records used: one unless providers differ.
    grid_kgco2e_per_kwh: dict[str, tuple[float, ...]]

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    @property
    def total(self) -> Totals:
        return grand_total(self.groups.values())

    @property
    def embodied_excludes(self) -> dict[str, str]:
        """The services in the report whose embodied emissions are not modelled, with the reason."""
        return {t.service: reason for t in self.groups.values() if t.service and (reason := t.embodied_not_modelled)}

    def flag_counts(self) -> dict[tuple[str, str], int]:
        """Resources per (service, flag), over every region."""
        counts: dict[tuple[str, str], int] = {}
        for (_, service), t in self.groups.items():
            for name, count in t.flagged.items():
                counts[(service, name)] = counts.get((service, name), 0) + count
        return dict(sorted(counts.items()))


def from_records(records: Iterable[EmissionRecord], start: datetime, end: datetime) -> Report:
    """The report of an estimate's records over [start, end)."""
    records = list(records)
    resources = by_resource(records)
    grid: dict[str, set[float]] = {}
    for r in records:
        grid.setdefault(r.region, set()).add(r.grid_kgco2e_per_kwh)
    return Report(
        start=start,
        end=end,
        groups=groups_of(resources),
        resources=resources,
        methodology_versions=_versions(r.methodology_version for r in records),
        grid_kgco2e_per_kwh={region: tuple(sorted(values)) for region, values in sorted(grid.items())},
    )


def from_rollups(rollups: Iterable[Rollup], start: datetime, end: datetime) -> Report:
    """The report of stored roll-ups over [start, end)."""
    rollups = list(rollups)
    grid: dict[str, set[float]] = {}
    for r in rollups:
        grid.setdefault(r.region, set()).update(r.grid_kgco2e_per_kwh)
    return Report(
        start=start,
        end=end,
        groups=by_region_service(rollups),
        resources=None,
        methodology_versions=_versions(r.methodology_version for r in rollups),
        grid_kgco2e_per_kwh={region: tuple(sorted(values)) for region, values in sorted(grid.items())},
    )


def _versions(versions: Iterable[str]) -> tuple[str, ...]:
    # A roll-up of records from two releases names both, joined by "+".
    return tuple(sorted({part for version in versions for part in version.split("+")}))


# JSON


def document(found: Report) -> dict[str, Any]:
    """The JSON of a report: ``estimate`` and ``report`` print this shape (README, "Reading the report")."""
    total = found.total
    return {
        "window": {
            "start": hour_key(found.start),
            "end": hour_key(found.end),
            "end_exclusive": True,
            "hours": found.hours,
        },
        "versions": {"carbonmeter": __version__, "methodology": list(found.methodology_versions)},
        "grid_factors": {
            "basis": GRID_BASIS,
            "kgco2e_per_kwh": {region: list(values) for region, values in found.grid_kgco2e_per_kwh.items()},
        },
        "bounds": BOUNDS,
        "totals": {
            **{k: v for k, v in total.figures().items() if k != "embodied_not_modelled"},
            "resources": total.resources,
            "embodied_excludes": found.embodied_excludes,
        },
        "services": [
            {"region": region, "service": service, "scope": scope_of(region), "resources": t.resources, **t.figures()}
            for (region, service), t in found.groups.items()
        ],
        "flags": [
            {"service": service, "flag": name, "resources": count, "meaning": flag_meaning(name)}
            for (service, name), count in found.flag_counts().items()
        ],
        "resources": None if found.resources is None else [_resource_json(k, t) for k, t in found.resources.items()],
    }


def _resource_json(key: ResourceKey, t: Totals) -> dict[str, Any]:
    service, region, resource_id, resource_type = key
    return {
        "service": service,
        "region": region,
        "resource_id": resource_id,
        "resource_type": resource_type,
        "scope": scope_of(region),
        "hours": t.hours,
        **t.figures(),
        "flags": sorted(t.flagged),
        "providers": sorted(t.providers),
    }


def estimate_document(
    records: Iterable[EmissionRecord], counter: ApiCallCounter, start: datetime, end: datetime
) -> dict[str, Any]:
    """The JSON document ``python -m carbonmeter estimate --format json`` prints: the report and the operator's
    figures of the run, apart."""
    return {**document(from_records(records, start, end)), "operations": operations_document(counter)}


def operations_document(counter: ApiCallCounter) -> dict[str, Any]:
    """The operator's figures: what the run asked of AWS, and what CloudWatch bills for it."""
    document: dict[str, Any] = {
        "api_calls": counter.calls,
        "metrics_requested": counter.metrics_requested,
        "cloudwatch_cost_usd": cloudwatch_cost(counter.metrics_requested),
    }
    requests = counter.calls.get(COST_EXPLORER_CALL, 0)
    if requests:
        document["cost_explorer_cost_usd"] = cost_explorer_cost(requests)
    return document


def cloudwatch_cost(metrics_requested: int) -> float:
    return monitoring.metrics_usd(metrics_requested)


# Cost Explorer bills every GetCostAndUsage request (the daily cost run's, carbonmeter/insights/costs.py).
COST_EXPLORER_CALL = "ce:GetCostAndUsage"
USD_PER_COST_EXPLORER_REQUEST = 0.01


def cost_explorer_cost(requests: int) -> float:
    return requests * USD_PER_COST_EXPLORER_REQUEST


# Text


def text(found: Report, title: str, *, per_resource: bool = False) -> str:
    """The report as an analyst reads it: headline, what the figures are, the table, and its footnotes."""
    sections = [title, headline(found.total), about(found)]
    table_text = resource_table(found.resources) if per_resource and found.resources else group_table(found.groups)
    sections.append(f"{table_text}\n\n{RANGES_NOTE}")
    notes = footnotes(found)
    if notes:
        sections.append(notes)
    return "\n\n".join(sections)


def headline(total: Totals) -> str:
    """The total, operational + embodied, with its range, and its parts beside it."""
    rows: list[list[Any]] = [
        ["total CO2e", Estimate.of(total.total_kgco2e, total.total_kgco2e_range, "mass")],
        ["  operational", Estimate.of(total.operational_kgco2e, total.operational_kgco2e_range, "mass")],
        ["  embodied", Estimate.of(total.embodied_kgco2e, total.embodied_kgco2e_range, "mass")],
        ["energy", Estimate.of(total.energy_kwh, total.energy_kwh_range, "energy")],
    ]
    cells, _ = _column([row[1] for row in rows])
    width = max(len(row[0]) for row in rows)
    return "\n".join(f"{row[0].ljust(width)}  {cell}".rstrip() for row, cell in zip(rows, cells, strict=True))


def about(found: Report) -> str:
    """What the numbers are: window, methodology, grid factors, bounds."""
    grid = ", ".join(
        # Roll-ups stored before they kept the grid factor name the region without one.
        f"{region} {' / '.join(_significant(v * 1000) for v in values) or 'not stored'}"
        for region, values in found.grid_kgco2e_per_kwh.items()
    )
    versions = ", ".join(found.methodology_versions) or "none (no figures)"
    lines = [
        f"window       {hour_key(found.start)} to {hour_key(found.end)} (end exclusive), {found.hours} hour(s)",
        f"methodology  {versions} (CarbonMeter {__version__}; docs/methodology.md)",
        f"grid         {GRID_BASIS} factors, g CO2e per kWh: {grid or 'none'}",
        f"bounds       {BOUNDS}",
    ]
    return "\n".join(lines)


def footnotes(found: Report) -> str:
    """What is not modelled, and which fallbacks (flags) shaped how many resources' figures."""
    notes: list[str] = []
    excludes = found.embodied_excludes
    if excludes:
        width = max(len(service) for service in excludes)
        reasons = [f"  {service.ljust(width)}  {reason}" for service, reason in sorted(excludes.items())]
        notes.append("\n".join([f"{NOT_MODELLED}: embodied emissions not modelled (and not in the totals):", *reasons]))
    counts = found.flag_counts()
    if counts:
        resources = {service: 0 for _, service in found.groups}
        for (_, service), t in found.groups.items():
            resources[service] += t.resources
        rows = [
            [f"{count} of {resources[service]}", service, name, flag_meaning(name) or "-"]
            for (service, name), count in counts.items()
        ]
        # Roll-ups count per hour: a resource that came and went is not told apart from its successor.
        when = ", the most in any one hour" if found.resources is None else ""
        notes.append(
            f"Flags: resources whose figures a fallback shaped (docs/methodology.md#flags{when})\n"
            + table(["resources", "service", "flag", "meaning"], rows)
        )
    return "\n\n".join(notes)


def table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A plain-text table, numbers right-aligned; an :class:`Estimate` shows as ``central [low, high] unit``."""
    values = [list(row) for row in rows]
    columns = [_column([row[i] for row in values]) for i in range(len(headers))]
    widths = [max([len(h)] + [len(c) for c in cells]) for h, (cells, _) in zip(headers, columns, strict=True)]

    def line(texts: Iterable[str]) -> str:
        return "  ".join(
            t.rjust(w) if right else t.ljust(w) for t, w, (_, right) in zip(texts, widths, columns, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    rows_text = [line(row) for row in zip(*(cells for cells, _ in columns), strict=True)]
    return "\n".join([line(headers), rule, *rows_text])


def _column(values: list[Any]) -> tuple[list[str], bool]:
    """A column's cells and whether they align right (numbers do)."""
    if values and all(isinstance(v, Estimate | NotModelled) for v in values):
        return _estimate_cells(values), True
    cells = [_cell(v) for v in values]
    return cells, bool(cells) and all(_is_number(c) for c in cells)


def _estimate_cells(values: list[Estimate | NotModelled]) -> list[str]:
    # Central, low, high and unit each padded to their widest in the column, so the numbers line up; the unit
    # is padded on the right, so that right-aligned cells keep their brackets in line.
    parts = [_scaled(v) for v in values if isinstance(v, Estimate)]
    central, low, high, unit = (max((len(p[i]) for p in parts), default=0) for i in range(4))
    scaled = iter(parts)
    cells = []
    for value in values:
        if isinstance(value, NotModelled):
            cells.append(NOT_MODELLED)
            continue
        c, lo, hi, u = next(scaled)
        cells.append(f"{c.rjust(central)} [{lo.rjust(low)}, {hi.rjust(high)}] {u.ljust(unit)}")
    return cells


def _scaled(estimate: Estimate) -> tuple[str, str, str, str]:
    """Central, low and high in the unit that suits the central figure (the high one's when it is zero; kWh or
    kg for a plain zero)."""
    units = _UNITS[estimate.quantity]
    reference = abs(estimate.central) or abs(estimate.high)
    unit, scale = next(
        ((name, scale) for name, scale in units if reference >= scale),
        units[-1] if reference else next(u for u in units if u[1] == 1.0),
    )
    return (
        _significant(estimate.central / scale),
        _significant(estimate.low / scale),
        _significant(estimate.high / scale),
        unit,
    )


def _significant(value: float, digits: int = DIGITS) -> str:
    """``value`` to ``digits`` significant digits, never in exponent form (0.000123, 1,230)."""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


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


def group_table(totals: Mapping[GroupKey, Totals]) -> str:
    """Per region and service, as ``report`` and the demo print it: the data centres' rows first, then edge and
    network (the global services), each scope's subtotal when there are both, and the total."""
    # No resource count here, to keep the table within a terminal; the JSON and the flags' notes have it.
    scopes: dict[str, dict[GroupKey, Totals]] = {SCOPE_DATA_CENTRE: {}, SCOPE_EDGE_NETWORK: {}}
    for (region, service), t in totals.items():
        scopes[scope_of(region)][(region, service)] = t
    rows: list[list[Any]] = [
        [region, service, *t.estimates()] for group in scopes.values() for (region, service), t in group.items()
    ]
    if all(scopes.values()):
        rows.extend([scope, "", *grand_total(group.values()).estimates()] for scope, group in scopes.items())
    rows.append(["TOTAL", "", *grand_total(totals.values()).estimates()])
    return table(["region", "service", *FIGURE_COLUMNS], rows)


def resource_table(totals: Mapping[ResourceKey, Totals]) -> str:
    """Per resource, as ``estimate`` prints it: the same figure columns as the per-service table."""
    rows: list[list[Any]] = [
        [service, region, resource_id, resource_type, f"{t.hours:g}", *t.estimates()]
        for (service, region, resource_id, resource_type), t in totals.items()
    ]
    total = grand_total(totals.values())
    rows.append(["TOTAL", "", "", "", "", *total.estimates()])
    return table(["service", "region", "resource", "type", "hours", *FIGURE_COLUMNS], rows)


def operations_text(counter: ApiCallCounter, heading: str) -> str:
    """The operator's section: every AWS call made, and what CloudWatch bills for the metrics read."""
    rows: list[list[Any]] = [[op, n] for op, n in counter.calls.items()]
    rows.append(["TOTAL", counter.total_calls])
    cost = cloudwatch_cost(counter.metrics_requested)
    text = (
        f"{heading}\n\n{table(['API call', 'count'], rows)}\n\n"
        f"CloudWatch metrics requested: {counter.metrics_requested:,} (GetMetricData bills these: USD {cost:.4f} "
        f"on AWS at USD {monitoring.prices().usd_per_1000_metrics} per 1,000; describe/list calls are free)"
    )
    requests = counter.calls.get(COST_EXPLORER_CALL, 0)
    if requests:
        text += (
            f"\nCost Explorer requests: {requests:,} (GetCostAndUsage bills each: USD "
            f"{cost_explorer_cost(requests):.2f} at USD {USD_PER_COST_EXPLORER_REQUEST} a request)"
        )
    return text


def footprint_text(found: Footprint, title: str) -> str:
    """A footprint by period and group (``report --granularity``): its totals, coverage and series."""
    lines = _totals_lines(found, title, f", by {found.granularity}")
    period_format = _PERIOD_FORMATS[found.granularity]
    rows = [
        [f"{point.period_start:{period_format}}", point.group, *_point_cells(point.model_dump(), point.group)]
        for point in found.series
    ]
    return "\n".join(lines) + table(["period", str(found.group_by), *FIGURE_COLUMNS], rows)


def breakdown_text(found: Breakdown, title: str) -> str:
    """Each group's figures over the whole window (``report --breakdown``), largest first."""
    lines = _totals_lines(found, title, "")
    rows = [[group.group, *_point_cells(group.model_dump(), group.group)] for group in found.groups]
    return "\n".join(lines) + table([str(found.group_by), *FIGURE_COLUMNS], rows)


def _totals_lines(found: Footprint | Breakdown, title: str, by: str) -> list[str]:
    """The title, the window's totals, its coverage and what the bounds mean: the head of either table."""
    energy, _, _, total = (_estimate_cells([cell])[0].strip() for cell in _figure_cells(found.totals))
    return [
        title,
        "",
        f"total CO2e     {total}",
        f"energy         {energy}",
        "",
        f"window: {hour_key(found.start)} to {hour_key(found.end)} (end exclusive){by}; "
        f"{found.hours_covered} of {found.hours_in_range} hour(s) calculated",
        f"bounds: {BOUNDS}",
        "",
    ]


_PERIOD_FORMATS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


def top_text(found: TopResources, title: str) -> str:
    """The largest resources of a range (``report --top N``), and how certain their figures and ranks are."""
    rows = [
        [
            f"{resource.rank}{'' if resource.rank_certain else '?'}",
            resource.service,
            resource.region,
            resource.resource_id,
            *_figure_cells(resource.model_dump()),
            "exact" if resource.exact else f"at most {_significant(resource.most_kgco2e)} kg",
        ]
        for resource in found.resources
    ]
    lines = [
        title,
        "",
        f"window: {hour_key(found.start)} to {hour_key(found.end)} (end exclusive); "
        f"{found.hours_covered} of {found.hours_in_range} hour(s) calculated",
        f"bounds: {BOUNDS}",
        "",
        table(["rank", "service", "region", "resource", *FIGURE_COLUMNS, "total at most"], rows),
        "",
        *_top_notes(found),
    ]
    return "\n".join(lines).rstrip()


def _top_notes(found: TopResources) -> list[str]:
    notes = [f"every resource not listed emitted at most {_significant(found.rest_most_kgco2e)} kg CO2e"]
    if not found.exact:
        notes.append('?: rank not certain (the kept tops bound it, docs/insights.md "Top resources")')
    if found.hours_unknown:
        notes.append(
            f"{found.hours_unknown} hour(s) calculated before tops were kept: their resources are counted nowhere "
            "here (recalculate them to fill them in)"
        )
    return notes


def _point_cells(figures: Mapping[str, Any], group: str) -> list[Estimate | NotModelled]:
    """A group's cells; a service's embodied reads "n/a" where the methodology does not model it."""
    cells: list[Estimate | NotModelled] = list(_figure_cells(figures))
    reason = embodied_not_modelled(group.split("/", 1)[0])
    if reason:
        cells[2] = NotModelled(reason)
    return cells


def _figure_cells(figures: Mapping[str, Any]) -> list[Estimate]:
    """Energy, operational, embodied and total, as cells."""
    energy, operational, embodied = (_as_figure(figures[name]) for name in PERIOD_FIGURES)
    total = operational + embodied
    return [
        Estimate(energy.central, energy.low, energy.high, "energy"),
        *(Estimate(f.central, f.low, f.high, "mass") for f in (operational, embodied, total)),
    ]


def _as_figure(value: Any) -> Figure:
    return value if isinstance(value, Figure) else Figure.model_validate(value)
