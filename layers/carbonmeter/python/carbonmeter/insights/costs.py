"""Cost beside carbon: each connection's daily spend per service and region, from Cost Explorer.

Once a day the scheduler queues a ``CostJob`` per enabled connection for the last ``REFETCH_DAYS`` days (AWS
revises recent days, so they are fetched again each time); the collector, whose role alone the customer's role
trusts, runs ``collect_costs``: one ``GetCostAndUsage`` (DAILY, UnblendedCost, grouped by SERVICE and REGION, the
two group keys Cost Explorer allows at most) paged by ``NextPageToken``, stored one item per connection-day.
``cost_insight`` reads them beside the day roll-ups of the emissions: carbon per dollar by service and region, and
the share of the account's spend that CarbonMeter meters (``docs/insights.md``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict

from carbonmeter import keys
from carbonmeter.aws import ClientFactory, assume_role
from carbonmeter.errors import describe_error
from carbonmeter.insights.aws_names import metered_as
from carbonmeter.models import Connection, CostJob, Service
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.report import table
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, _from_item, _HourLedger, _to_item

# Cost Explorer is a global API served from us-east-1.
CE_REGION = "us-east-1"
REFETCH_DAYS = 7
METRIC = "UnblendedCost"
GROUP_BY = ({"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"})
# Cost Explorer's own limits: at most two group keys; daily data for the last 13 months and the current one.
MAX_GROUP_KEYS = 2
HISTORY_MONTHS = 13
assert len(GROUP_BY) <= MAX_GROUP_KEYS, "Cost Explorer refuses more group keys"


class CostWindowError(ValueError):
    """Days Cost Explorer would refuse or could not answer for."""


class CostLine(BaseModel):
    """One AWS service's spend in one region on one day (AWS's service name, as Cost Explorer gives it)."""

    model_config = ConfigDict(frozen=True)

    aws_service: str
    region: str
    usd: float


class DayCost(BaseModel):
    """A connection's spend on one UTC day, per AWS service and region; ``estimated`` until AWS closes the day."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    day: date
    lines: tuple[CostLine, ...] = ()
    estimated: bool = False
    fetched_at: datetime


def earliest_day(today: date) -> date:
    """The first day Cost Explorer answers daily figures for: the first of the month 13 months back."""
    months = today.year * 12 + today.month - 1 - HISTORY_MONTHS
    return date(months // 12, months % 12 + 1, 1)


def cost_request(start: date, end: date, today: date, token: str | None = None) -> dict[str, Any]:
    """The GetCostAndUsage request for the days in [start, end), refused (``CostWindowError``) as AWS would."""
    if end <= start:
        raise CostWindowError(f"cost window {start} to {end}: the end must be after the start")
    if end > today + timedelta(days=1):
        raise CostWindowError(f"cost window ends {end}: after tomorrow ({today + timedelta(days=1)}), refused")
    if start < earliest_day(today):
        raise CostWindowError(
            f"cost window starts {start}: Cost Explorer keeps daily figures from {earliest_day(today)}"
        )
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [METRIC],
        "GroupBy": [dict(group) for group in GROUP_BY],
    }
    if token:
        request["NextPageToken"] = token
    return request


def fetch_costs(ce: Any, connection_id: str, start: date, end: date, now: datetime) -> list[DayCost]:
    """Every day of [start, end) as Cost Explorer gives it, following ``NextPageToken`` (one request a page)."""
    by_day: dict[date, list[CostLine]] = defaultdict(list)
    estimated: dict[date, bool] = {}
    token: str | None = None
    while True:
        page = ce.get_cost_and_usage(**cost_request(start, end, now.date(), token))
        for result in page.get("ResultsByTime", []):
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            estimated[day] = estimated.get(day, False) or bool(result.get("Estimated", False))
            by_day[day].extend(_lines(result.get("Groups", [])))
        token = page.get("NextPageToken")
        if not token:
            break
    return [
        DayCost(
            connection_id=connection_id,
            day=day,
            lines=tuple(sorted(by_day[day], key=lambda line: (line.aws_service, line.region))),
            estimated=estimated[day],
            fetched_at=now,
        )
        for day in sorted(estimated)
    ]


def _lines(groups: Iterable[Mapping[str, Any]]) -> Iterator[CostLine]:
    for group in groups:
        service, region = [*group["Keys"], "", ""][:2]
        amount = float(group["Metrics"][METRIC]["Amount"])
        if amount:
            yield CostLine(aws_service=service, region=region or "NoRegion", usd=amount)


class CostStore(_HourLedger):
    """Each connection's daily spend, one item per connection-day in the connection's partition (usage table)."""

    def put_days(self, days: Sequence[DayCost]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for day in days:
                batch.put_item(Item=_to_item(day, pk=day.connection_id, sk=keys.cost_key(day.day)))

    def days(self, connection_id: str, start: date, end: date) -> list[DayCost]:
        """The stored days in [start, end)."""
        bounds = (keys.cost_key(start), keys.cost_key(end))
        condition = Key("pk").eq(connection_id) & Key("sk").between(*bounds)
        found = (_from_item(DayCost, item) for item in self._paginate(KeyConditionExpression=condition))
        return [day for day in found if start <= day.day < end]


# The collector


def collect_costs(job: CostJob, clients: ClientFactory, settings: Settings, now: datetime) -> list[DayCost]:
    """Fetch and store one connection's spend for the job's days, through the customer's role."""
    connections = ConnectionStore(clients, settings.connections_table)
    connection = connections.get(job.connection_id)
    with failure_noted(connections, connection.connection_id, "cost job"):
        customer = customer_clients(clients, connection, settings)
        ce = customer.client("ce", CE_REGION)
        days = fetch_costs(ce, connection.connection_id, job.first_day, job.end_day, now)
        CostStore(clients, settings.usage_table).put_days(days)
    return days


@contextmanager
def failure_noted(connections: ConnectionStore, connection_id: str, what: str) -> Iterator[None]:
    """A failure leaves its trace on the connection (``connections list``) before it propagates (and is retried)."""
    try:
        yield
    except Exception as exc:
        connections.record_failure(connection_id, f"{what}: {describe_error(exc)}")
        raise


def customer_clients(clients: ClientFactory, connection: Connection, settings: Settings) -> ClientFactory:
    """Clients in the connection's account: its role, assumed with its ExternalId and the read-only session policy."""
    return assume_role(
        clients,
        connection.role_arn,
        connection.external_id,
        settings.role_session_name,
        session_actions=READ_ACTIONS,
        session_resources=READ_RESOURCES,
    )


# The scheduler


def daily_jobs(connection_ids: Iterable[str], now: datetime) -> list[CostJob]:
    """The daily run's jobs: the last ``REFETCH_DAYS`` whole days (UTC) of every connection."""
    today = now.astimezone(UTC).date()
    return [
        CostJob(connection_id=connection_id, first_day=today - timedelta(days=REFETCH_DAYS), end_day=today)
        for connection_id in connection_ids
    ]


def backfill_jobs(connection_ids: Iterable[str], start: datetime, end: datetime, now: datetime) -> list[CostJob]:
    """A backfill's days that Cost Explorer still has, one job per connection (paged by the collector)."""
    today = now.astimezone(UTC).date()
    first = max(start.astimezone(UTC).date(), earliest_day(today))
    last = min((end - timedelta(microseconds=1)).astimezone(UTC).date() + timedelta(days=1), today)
    if last <= first:
        return []
    return [CostJob(connection_id=connection_id, first_day=first, end_day=last) for connection_id in connection_ids]


# Reading it back


class CarbonPerDollar(BaseModel):
    """One metered service in one region over the window: its CO2e, its spend, and the ratio.

    The ratio is None without spend, and None when no hour of the window has figures: a 0 there would read as
    carbon-free spend.
    """

    model_config = ConfigDict(frozen=True)

    service: str
    region: str
    kgco2e: float
    usd: float
    kgco2e_per_usd: float | None


class ServiceCarbonPerDollar(BaseModel):
    """One metered service over the window, all its regions together (``CarbonPerDollar``'s rows added up)."""

    model_config = ConfigDict(frozen=True)

    service: str
    kgco2e: float
    usd: float
    kgco2e_per_usd: float | None


class UnmeteredService(BaseModel):
    model_config = ConfigDict(frozen=True)

    aws_service: str
    usd: float


class Coverage(BaseModel):
    """How much of the account's spend over the window CarbonMeter meters, and what it does not."""

    model_config = ConfigDict(frozen=True)

    total_usd: float
    metered_usd: float
    metered_share: float | None
    unmetered: tuple[UnmeteredService, ...]


class CostInsight(BaseModel):
    """Carbon beside cost for one connection over the days in [start, end)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    start: date
    end: date
    days_with_costs: int
    days_in_window: int
    hours_calculated: int
    hours_in_window: int
    estimated_days: int
    rows: tuple[CarbonPerDollar, ...]
    # By service, the most spent first.
    services: tuple[ServiceCarbonPerDollar, ...]
    coverage: Coverage


def cost_insight(clients: ClientFactory, settings: Settings, connection_id: str, start: date, end: date) -> CostInsight:
    """The stored spend of [start, end) beside the stored footprint of the same days."""
    if end <= start:
        raise CostWindowError(f"cost window {start} to {end}: the end must be after the start")
    # Its services, read without its role and ExternalId (the HTTP API's function never needs them).
    connection = ConnectionStore(clients, settings.connections_table).view(connection_id)
    days = CostStore(clients, settings.usage_table).days(connection_id, start, end)
    first, last = (datetime(d.year, d.month, d.day, tzinfo=UTC) for d in (start, end))
    periods = EmissionStore(clients, settings.emissions_table).periods(connection_id, Granularity.DAY, first, last)
    carbon: dict[tuple[str, str], float] = defaultdict(float)
    for period in periods:
        for group in period.of(GroupBy.SERVICE_REGION):
            service, region = group.group.split("/", 1)
            carbon[(service, region)] += group.operational_kgco2e.central + group.embodied_kgco2e.central
    hours_calculated = sum(period.hours_covered for period in periods)
    rows = carbon_per_dollar(carbon, days, connection.services, has_carbon=hours_calculated > 0)
    return CostInsight(
        connection_id=connection_id,
        start=start,
        end=end,
        days_with_costs=len(days),
        days_in_window=(end - start).days,
        hours_calculated=hours_calculated,
        hours_in_window=(end - start).days * 24,
        estimated_days=sum(day.estimated for day in days),
        rows=rows,
        services=by_service(rows, has_carbon=hours_calculated > 0),
        coverage=coverage(days, connection.services),
    )


def carbon_per_dollar(
    carbon: Mapping[tuple[str, str], float],
    days: Iterable[DayCost],
    metered: Iterable[Service],
    *,
    has_carbon: bool = True,
) -> tuple[CarbonPerDollar, ...]:
    """Per metered service and region: CO2e, the spend AWS bills under that service there, and their ratio."""
    spend = _metered_spend(days, set(metered))
    rows = []
    for service, region in sorted(set(carbon) | set(spend)):
        kg, usd = carbon.get((service, region), 0.0), spend.get((service, region), 0.0)
        rows.append(
            CarbonPerDollar(
                service=service, region=region, kgco2e=kg, usd=usd, kgco2e_per_usd=_ratio(kg, usd, has_carbon)
            )
        )
    return tuple(rows)


def by_service(rows: Iterable[CarbonPerDollar], *, has_carbon: bool = True) -> tuple[ServiceCarbonPerDollar, ...]:
    """The rows' services, each over all its regions, the most spent first (then by name)."""
    kg: dict[str, float] = defaultdict(float)
    usd: dict[str, float] = defaultdict(float)
    for row in rows:
        kg[row.service] += row.kgco2e
        usd[row.service] += row.usd
    services = sorted(kg, key=lambda service: (-usd[service], service))
    return tuple(
        ServiceCarbonPerDollar(
            service=service,
            kgco2e=kg[service],
            usd=usd[service],
            kgco2e_per_usd=_ratio(kg[service], usd[service], has_carbon),
        )
        for service in services
    )


def _ratio(kg: float, usd: float, has_carbon: bool) -> float | None:
    return kg / usd if usd > 0 and has_carbon else None


def _metered_spend(days: Iterable[DayCost], metered: set[Service]) -> dict[tuple[str, str], float]:
    spend: dict[tuple[str, str], float] = defaultdict(float)
    for day in days:
        for line in day.lines:
            known = metered_as(line.aws_service)
            if known is not None and known.service in metered and line.usd > 0:
                spend[(str(known.service), line.region)] += line.usd
    return dict(spend)


def coverage(days: Iterable[DayCost], metered: Iterable[Service]) -> Coverage:
    """The share of the spend that CarbonMeter meters; credits and refunds (negative lines) are left out."""
    services = set(metered)
    total = 0.0
    covered = 0.0
    unmetered: dict[str, float] = defaultdict(float)
    for day in days:
        for line in day.lines:
            if line.usd <= 0:
                continue
            total += line.usd
            known = metered_as(line.aws_service)
            if known is not None and known.service in services:
                covered += line.usd
            else:
                unmetered[line.aws_service] += line.usd
    ranked = sorted(unmetered.items(), key=lambda item: (-item[1], item[0]))
    return Coverage(
        total_usd=total,
        metered_usd=covered,
        metered_share=covered / total if total > 0 else None,
        unmetered=tuple(UnmeteredService(aws_service=name, usd=usd) for name, usd in ranked),
    )


def cost_text(insight: CostInsight, *, top: int = 10) -> str:
    """The insight as an analyst reads it: carbon per dollar, then coverage and the unmetered services by spend."""
    share = insight.coverage.metered_share
    lines = [
        f"Cost beside carbon: {insight.connection_id}, {insight.start} to {insight.end} (end exclusive)",
        "",
        f"spend          USD {insight.coverage.total_usd:,.2f} over {insight.days_with_costs} of "
        f"{insight.days_in_window} day(s) fetched ({insight.estimated_days} still estimated by AWS)",
        f"metered        USD {insight.coverage.metered_usd:,.2f}"
        + (f" ({share:.0%} of the spend)" if share is not None else " (no spend fetched)"),
        f"carbon         {insight.hours_calculated} of {insight.hours_in_window} hour(s) calculated",
        "",
    ]
    services = [
        [service.service, f"{service.kgco2e:.3f}", f"{service.usd:.2f}", _ratio_text(service.kgco2e_per_usd)]
        for service in insight.services
    ]
    if services:
        lines += [table(["service", "kgCO2e", "USD", "kgCO2e/USD"], services), ""]
    rows = [
        [
            row.service,
            row.region,
            f"{row.kgco2e:.3f}",
            f"{row.usd:.2f}",
            _ratio_text(row.kgco2e_per_usd),
        ]
        for row in insight.rows
    ]
    lines.append(table(["service", "region", "kgCO2e", "USD", "kgCO2e/USD"], rows) if rows else "(no figures)")
    unmetered = insight.coverage.unmetered
    if unmetered:
        lines += ["", f"Not metered by CarbonMeter (by spend, top {min(top, len(unmetered))} of {len(unmetered)}):"]
        lines.append(table(["AWS service", "USD"], [[u.aws_service, f"{u.usd:.2f}"] for u in unmetered[:top]]))
    return "\n".join(lines)


def _ratio_text(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.4f}"
