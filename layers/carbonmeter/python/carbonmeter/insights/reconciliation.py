"""Reconciliation with AWS's own figures: the AWS Sustainability API's month beside CarbonMeter's.

AWS publishes each account's estimated emissions per month (``sustainability:GetEstimatedCarbonEmissions``), by
the 21st of the following month, back to January 2022, grouped by service and region, location- and
market-based, and split by scope in recent model versions. Once a month (the rule fires daily from the 21st until
the month is stored) and for every month a backfill covers, the collector fetches a connection's month through
the customer's role (``collect_aws_month``); ``reconcile`` sets it beside CarbonMeter's month roll-up for the same
scopes (``docs/insights.md``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from carbonmeter import keys
from carbonmeter.aws import ClientFactory
from carbonmeter.insights.aws_names import metered_as
from carbonmeter.insights.costs import customer_clients, failure_noted
from carbonmeter.models import ReconcileJob
from carbonmeter.periods import Granularity, GroupBy, PeriodRollup, hours_in, period_end
from carbonmeter.report import table
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, _from_item, _HourLedger, _to_item

# The Sustainability API is served from us-east-1 for every region's figures.
SUSTAINABILITY_REGION = "us-east-1"
FIRST_MONTH = "2022-01"
PUBLISHED_BY_DAY = 21
KG_PER_TONNE = 1000.0
PAGE_SIZE = 1000

LBM = "TOTAL_LBM_CARBON_EMISSIONS"
MBM = "TOTAL_MBM_CARBON_EMISSIONS"
SCOPE_1 = "TOTAL_SCOPE_1_CARBON_EMISSIONS"
SCOPE_2_LBM = "TOTAL_SCOPE_2_LBM_CARBON_EMISSIONS"
SCOPE_2_MBM = "TOTAL_SCOPE_2_MBM_CARBON_EMISSIONS"
SCOPE_3_LBM = "TOTAL_SCOPE_3_LBM_CARBON_EMISSIONS"
SCOPE_3_MBM = "TOTAL_SCOPE_3_MBM_CARBON_EMISSIONS"
EMISSIONS_TYPES = (LBM, MBM, SCOPE_1, SCOPE_2_LBM, SCOPE_2_MBM, SCOPE_3_LBM, SCOPE_3_MBM)

# Why the two figures differ even where both are right; printed with every comparison.
KNOWN_CAUSES = (
    "boundaries: AWS counts every service and its shared infrastructure, CarbonMeter only the resources it meters",
    "basis: CarbonMeter uses location-based grid factors; AWS's market-based figures net its renewable purchases",
    "overhead: AWS allocates its unused capacity and data-centre overhead to the accounts using it",
    "embodied: AWS's and CarbonMeter's amortisation of hardware manufacture differ in lifetime and allocation",
)


class MonthError(ValueError):
    """A month AWS has no figures for, or not yet."""


class AwsCarbonLine(BaseModel):
    """AWS's figures of one service in one region for the month, in kg CO2e per emissions type."""

    model_config = ConfigDict(frozen=True)

    aws_service: str
    region: str
    kgco2e: dict[str, float]


class AwsCarbonMonth(BaseModel):
    """What AWS published of one connection's month, with the model version it was computed with."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    month: str
    model_version: str
    lines: tuple[AwsCarbonLine, ...] = ()
    fetched_at: datetime


def month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _shift(month: str, months: int) -> str:
    start = month_start(month)
    index = start.year * 12 + start.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def published(month: str, now: datetime) -> bool:
    """Whether AWS has published ``month`` at ``now``: by the 21st of the following month."""
    due = month_start(_shift(month, 1)).replace(day=PUBLISHED_BY_DAY)
    return month >= FIRST_MONTH and now.astimezone(UTC) >= due


def due_month(now: datetime) -> str:
    """The latest month published at ``now``: the month before from the 21st on, else the one before that."""
    current = month_of(now)
    return _shift(current, -1) if published(_shift(current, -1), now) else _shift(current, -2)


def months_between(start: datetime, end: datetime) -> list[str]:
    """Every month overlapping [start, end)."""
    months, month = [], month_of(start)
    while month_start(month) < end:
        months.append(month)
        month = _shift(month, 1)
    return months


def carbon_request(month: str, token: str | None = None) -> dict[str, Any]:
    start = month_start(month)
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start, "End": month_start(_shift(month, 1))},
        "GroupBy": ["SERVICE", "REGION"],
        "EmissionsTypes": list(EMISSIONS_TYPES),
        "Granularity": "MONTHLY",
        "MaxResults": PAGE_SIZE,
    }
    if token:
        request["NextToken"] = token
    return request


def fetch_aws_month(client: Any, connection_id: str, month: str, now: datetime) -> AwsCarbonMonth | None:
    """AWS's figures of ``month`` by service and region (every page), or None when AWS returns none."""
    lines: list[AwsCarbonLine] = []
    versions: set[str] = set()
    token: str | None = None
    while True:
        page = client.get_estimated_carbon_emissions(**carbon_request(month, token))
        for result in page["Results"]:
            if month_of(result["TimePeriod"]["Start"]) != month:
                continue
            versions.add(result["ModelVersion"])
            lines.append(_line(result))
        token = page.get("NextToken")
        if not token:
            break
    if not lines:
        return None
    return AwsCarbonMonth(
        connection_id=connection_id,
        month=month,
        # AWS reflects one model version per month; several would mean a month recomputed between pages.
        model_version=", ".join(sorted(versions)),
        lines=tuple(sorted(lines, key=lambda line: (line.aws_service, line.region))),
        fetched_at=now,
    )


def _line(result: Mapping[str, Any]) -> AwsCarbonLine:
    dimensions = result.get("DimensionsValues", {})
    return AwsCarbonLine(
        aws_service=dimensions.get("SERVICE", "") or "(none)",
        region=dimensions.get("REGION", "") or "(none)",
        kgco2e={kind: value["Value"] * KG_PER_TONNE for kind, value in result["EmissionsValues"].items()},
    )


class AwsCarbonStore(_HourLedger):
    """AWS's figures per connection-month, one item in the connection's partition (usage table)."""

    def put(self, month: AwsCarbonMonth) -> None:
        self._table.put_item(Item=_to_item(month, pk=month.connection_id, sk=keys.aws_carbon_key(month.month)))

    def get(self, connection_id: str, month: str) -> AwsCarbonMonth | None:
        item = self._table.get_item(Key={"pk": connection_id, "sk": keys.aws_carbon_key(month)}, ConsistentRead=True)
        return _from_item(AwsCarbonMonth, item["Item"]) if "Item" in item else None

    def stored(self, connection_id: str, month: str) -> bool:
        """Whether the month is stored; a Query, which the scheduler may already make on this table."""
        return any(True for _ in self._query(connection_id, keys.aws_carbon_key(month), ProjectionExpression="sk"))


# The collector


def collect_aws_month(
    job: ReconcileJob, clients: ClientFactory, settings: Settings, now: datetime
) -> AwsCarbonMonth | None:
    """Fetch and store AWS's figures of the job's month through the customer's role; None while unpublished."""
    connections = ConnectionStore(clients, settings.connections_table)
    connection = connections.get(job.connection_id)
    with failure_noted(connections, connection.connection_id, f"reconciliation of {job.month}"):
        customer = customer_clients(clients, connection, settings)
        client = customer.client("sustainability", SUSTAINABILITY_REGION)
        found = fetch_aws_month(client, connection.connection_id, job.month, now)
        if found is not None:
            AwsCarbonStore(clients, settings.usage_table).put(found)
    return found


# The scheduler


def monthly_jobs(
    connection_ids: Iterable[str], stored: Callable[[str, str], bool], now: datetime
) -> list[ReconcileJob]:
    """The due month of every connection that has not stored it yet (``stored(connection_id, month)``)."""
    month = due_month(now)
    return [ReconcileJob(connection_id=c, month=month) for c in connection_ids if not stored(c, month)]


def backfill_jobs(connection_ids: Iterable[str], start: datetime, end: datetime, now: datetime) -> list[ReconcileJob]:
    """Every published month a backfill covers, for each connection."""
    months = [month for month in months_between(start, end) if published(month, now)]
    return [ReconcileJob(connection_id=c, month=month) for c in connection_ids for month in months]


# The comparison


class Comparison(BaseModel):
    """CarbonMeter's figure beside AWS's for one scope or group; ratio = CarbonMeter / AWS (None without both)."""

    model_config = ConfigDict(frozen=True)

    what: str
    carbonmeter_kg: float | None
    aws_kg: float | None
    ratio: float | None


class Reconciliation(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    month: str
    model_version: str
    fetched_at: datetime
    hours_calculated: int
    hours_in_month: int
    scopes: tuple[Comparison, ...]
    by_service: tuple[Comparison, ...]
    by_region: tuple[Comparison, ...]
    causes: tuple[str, ...] = KNOWN_CAUSES

    @property
    def per_hour_factor(self) -> float | None:
        """What scales a ratio of a partly calculated month to one per calculated hour (None when none was)."""
        if not self.hours_calculated:
            return None
        return self.hours_in_month / self.hours_calculated


def reconcile(clients: ClientFactory, settings: Settings, connection_id: str, month: str) -> Reconciliation:
    """The stored AWS month beside CarbonMeter's month for the same scopes, by service and by region."""
    ConnectionStore(clients, settings.connections_table).schedule(connection_id)
    aws = AwsCarbonStore(clients, settings.usage_table).get(connection_id, month)
    if aws is None:
        raise MonthError(
            f"no AWS figures stored for {connection_id} {month}: AWS publishes a month by the 21st of the next, "
            "and the collector fetches it then (or on a backfill of that month)"
        )
    start = month_start(month)
    periods = EmissionStore(clients, settings.emissions_table).periods(
        connection_id, Granularity.MONTH, start, period_end(start, Granularity.MONTH)
    )
    return compare(aws, periods[0] if periods else None, hours_in(start, Granularity.MONTH))


def compare(aws: AwsCarbonMonth, ours: PeriodRollup | None, hours_in_month: int) -> Reconciliation:
    """The comparison maths: totals per scope, and location-based totals by service and by region."""
    aws_totals = _sum(line.kgco2e for line in aws.lines)
    operational = embodied = 0.0
    services: dict[str, float] = {}
    regions: dict[str, float] = {}
    if ours is not None:
        for group in ours.of(GroupBy.SERVICE):
            services[group.group] = group.operational_kgco2e.central + group.embodied_kgco2e.central
            operational += group.operational_kgco2e.central
            embodied += group.embodied_kgco2e.central
        for group in ours.of(GroupBy.REGION):
            regions[group.group] = group.operational_kgco2e.central + group.embodied_kgco2e.central
    scope_split = SCOPE_2_LBM in aws_totals
    scopes = (
        _compared("total, location-based", operational + embodied, aws_totals.get(LBM)),
        _compared(
            "total, market-based (AWS); CarbonMeter's location-based", operational + embodied, aws_totals.get(MBM)
        ),
        _compared(
            "scopes 1 + 2, location-based (CarbonMeter: operational)",
            operational,
            aws_totals.get(SCOPE_1, 0.0) + aws_totals[SCOPE_2_LBM] if scope_split else None,
        ),
        _compared("scope 3, location-based (CarbonMeter: embodied)", embodied, aws_totals.get(SCOPE_3_LBM)),
    )
    return Reconciliation(
        connection_id=aws.connection_id,
        month=aws.month,
        model_version=aws.model_version,
        fetched_at=aws.fetched_at,
        hours_calculated=ours.hours_covered if ours else 0,
        hours_in_month=hours_in_month,
        scopes=scopes,
        by_service=_groups(services, _aws_by(aws, _service_name)),
        by_region=_groups(regions, _aws_by(aws, lambda line: line.region)),
    )


def _sum(values: Iterable[Mapping[str, float]]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for value in values:
        for kind, kg in value.items():
            totals[kind] += kg
    return dict(totals)


def _service_name(line: AwsCarbonLine) -> str:
    known = metered_as(line.aws_service)
    return str(known.service) if known else line.aws_service


def _aws_by(aws: AwsCarbonMonth, key: Callable[[AwsCarbonLine], str]) -> dict[str, float]:
    grouped: dict[str, float] = defaultdict(float)
    for line in aws.lines:
        grouped[key(line)] += line.kgco2e.get(LBM, 0.0)
    return dict(grouped)


def _groups(ours: Mapping[str, float], theirs: Mapping[str, float]) -> tuple[Comparison, ...]:
    names = sorted(set(ours) | set(theirs), key=lambda name: (-max(ours.get(name, 0), theirs.get(name, 0)), name))
    return tuple(_compared(name, ours.get(name), theirs.get(name)) for name in names)


def _compared(what: str, ours: float | None, theirs: float | None) -> Comparison:
    ratio = ours / theirs if ours is not None and theirs else None
    return Comparison(what=what, carbonmeter_kg=ours, aws_kg=theirs, ratio=ratio)


def reconciliation_text(found: Reconciliation) -> str:
    """The comparison as an analyst reads it: scopes, by service, by region, the hours behind it and the causes."""
    lines = [
        f"Reconciliation with AWS's figures: {found.connection_id}, {found.month}",
        "",
        f"AWS model version {found.model_version}, fetched {found.fetched_at:%Y-%m-%d %H:%M}Z; "
        "ratio = CarbonMeter / AWS",
        f"CarbonMeter: {found.hours_calculated} of {found.hours_in_month} hour(s) of the month calculated",
    ]
    factor = found.per_hour_factor
    if factor is not None and found.hours_calculated < found.hours_in_month:
        lines.append(
            f"  (a partial month: CarbonMeter's figures cover only those hours, AWS's the whole month; "
            f"x{factor:.1f} gives the ratio per calculated hour)"
        )
    for title, rows in (("scope", found.scopes), ("service", found.by_service), ("region", found.by_region)):
        lines += ["", table([title, "CarbonMeter kgCO2e", "AWS kgCO2e", "ratio"], [_cells(row) for row in rows])]
    lines += ["", "Known causes of the difference:", *(f"- {cause}" for cause in found.causes)]
    return "\n".join(lines)


def _cells(row: Comparison) -> list[str]:
    return [
        row.what,
        "n/a" if row.carbonmeter_kg is None else f"{row.carbonmeter_kg:.3f}",
        "n/a" if row.aws_kg is None else f"{row.aws_kg:.3f}",
        "n/a" if row.ratio is None else f"{row.ratio:.2f}",
    ]
