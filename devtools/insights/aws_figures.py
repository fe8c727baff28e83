"""The demo's cost and reconciliation: Cost Explorer's answers queued on moto, both jobs run, and the report's part.

moto answers GetCostAndUsage with results queued through its API (``/moto-api/static/ce/cost-and-usage-results``),
one per distinct request: the demo queues the answer to the daily run's one request, a week of spend made of fixed
figures (``DAILY_USD``: the demo fleet's services in each region, and services CarbonMeter does not meter), then
fires the daily cost rule through the real scheduler and collector. AWS's figures of the demo's month come from
the embedded AWS's stand-in (``devtools/aws/sustainability.py``): AWS publishes a month by the 21st of the next,
so the demo's own month is not published yet, and the monthly rule would not queue it; the demo queues its job
itself, as a backfill of a published month would, and the report says the figures are a stand-in.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from carbonmeter.insights import costs, reconciliation
from carbonmeter.insights.schedule import Insight
from carbonmeter.models import ReconcileJob
from carbonmeter.scheduling import enqueue

if TYPE_CHECKING:
    # The registry (devtools/insights/__init__.py) imports this module: its types are read for type checks only.
    from devtools.aws.pipeline import LocalPipeline
    from devtools.insights import InsightContext

# USD a day per region: the demo fleet's services, then some it does not meter; "NoRegion" lines once.
DAILY_USD: dict[str, float] = {
    "Amazon Elastic Compute Cloud - Compute": 9.12,
    "EC2 - Other": 1.74,
    "Amazon Relational Database Service": 4.31,
    "Amazon Simple Storage Service": 0.62,
    "AWS Lambda": 0.18,
    "Amazon DynamoDB": 0.41,
    "Amazon ElastiCache": 1.22,
    "Amazon CloudWatch": 0.95,
    "Amazon Virtual Private Cloud": 1.08,
    "AWS Key Management Service": 0.07,
}
GLOBAL_USD = {"Amazon CloudFront": 0.33}
NO_REGION_USD = {"Tax": 1.9, "AWS Cost Explorer": 0.01}
# Each region's share of a service's daily spend: the first region of the demo runs most of the fleet.
REGION_SHARES = (1.0, 0.55, 0.3, 0.2)


def demo_spend(regions: Sequence[str], day: date) -> list[dict[str, Any]]:
    """One day's Cost Explorer groups for ``regions``; weekends a tenth lower, as a fleet that scales down."""
    weekday = 0.9 if day.weekday() >= 5 else 1.0
    lines = [
        (service, region, usd * REGION_SHARES[min(i, len(REGION_SHARES) - 1)] * weekday)
        for i, region in enumerate(regions)
        for service, usd in DAILY_USD.items()
    ]
    lines += [(service, "global", usd * weekday) for service, usd in GLOBAL_USD.items()]
    lines += [(service, "NoRegion", usd) for service, usd in NO_REGION_USD.items()]
    return [
        {"Keys": [service, region], "Metrics": {costs.METRIC: {"Amount": f"{usd:.6f}", "Unit": "USD"}}}
        for service, region, usd in lines
    ]


def queue_demo_costs(endpoint: str, account_id: str, regions: Sequence[str], first: date, end: date) -> None:
    """Queue on moto the answer to the request for the days in [first, end)."""
    days = [first + timedelta(days=n) for n in range((end - first).days)]
    result = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": demo_spend(regions, day),
                # AWS keeps the latest days estimated until it closes them.
                "Estimated": day >= end - timedelta(days=2),
            }
            for day in days
        ],
        "DimensionValueAttributes": [],
    }
    where = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        body = json.dumps({"account_id": account_id, "results": [result]})
        connection.request("POST", "/moto-api/static/ce/cost-and-usage-results", body, _JSON)
        answer = connection.getresponse()
        answer.read()
        if answer.status != 201:
            raise RuntimeError(f"moto refused the demo's Cost Explorer results: HTTP {answer.status}")
    finally:
        connection.close()


_JSON = {"Content-Type": "application/json"}


def run_aws_figures(pipeline: LocalPipeline, connection_id: str, regions: Sequence[str]) -> None:
    """The daily cost run and the reconciliation of the demo's month, through the real scheduler and collector."""
    now = pipeline.now()
    jobs = costs.daily_jobs([connection_id], now)
    # The embedded AWS's address, as every client of the demo reaches it.
    endpoint = pipeline.clients.client("sts").meta.endpoint_url
    queue_demo_costs(endpoint, pipeline.account_id, regions, jobs[0].first_day, jobs[0].end_day)
    pipeline.invoke_scheduler({"insight": str(Insight.COSTS), "time": now.isoformat()})
    assert pipeline.settings.collect_queue_url
    enqueue(
        pipeline.clients,
        pipeline.settings.collect_queue_url,
        [ReconcileJob(connection_id=connection_id, month=demo_month(now))],
    )
    pipeline.drain_collect()


def demo_month(now: datetime) -> str:
    """The month of the demo's last whole day."""
    return reconciliation.month_of(now - timedelta(days=1))


def aws_figures_part(context: InsightContext) -> str:
    """The report's part: the last whole day's cost beside carbon, and the month beside AWS's (stand-in) figures."""
    day = (context.end.astimezone(UTC) - timedelta(days=1)).date()
    cost = costs.cost_insight(context.clients, context.settings, context.connection_id, day, day + timedelta(days=1))
    lines = [_cost_lines(cost)]
    month = demo_month(context.end)
    try:
        found = reconciliation.reconcile(context.clients, context.settings, context.connection_id, month)
    except reconciliation.MonthError:
        return lines[0]
    lines.append(_reconciliation_lines(found))
    return "\n\n".join(lines)


def _cost_lines(cost: costs.CostInsight) -> str:
    share = cost.coverage.metered_share
    rows = sorted((row for row in cost.rows if row.kgco2e_per_usd), key=lambda row: -row.usd)[:4]
    unmetered = ", ".join(f"{u.aws_service} USD {u.usd:.2f}" for u in cost.coverage.unmetered[:3])
    text = [
        f"Cost beside carbon, {cost.start} (Cost Explorer on the embedded AWS: the demo's queued answers)",
        f"  spend USD {cost.coverage.total_usd:.2f}; CarbonMeter meters "
        + (f"{share:.0%} of it" if share is not None else "none of it"),
        *(
            f"  {row.service}/{row.region}: {row.kgco2e:.3f} kgCO2e for USD {row.usd:.2f} = "
            f"{row.kgco2e_per_usd:.3f} kgCO2e/USD"
            for row in rows
        ),
        f"  not metered, by spend: {unmetered}",
    ]
    return "\n".join(text)


def _reconciliation_lines(found: reconciliation.Reconciliation) -> str:
    total = found.scopes[0]
    text = [
        f"Reconciliation with AWS's figures, {found.month}: a STAND-IN ({found.model_version}), not AWS's;",
        f"  AWS publishes {found.month} by the 21st of the next month, so the embedded AWS answers for it",
        f"  CarbonMeter {total.carbonmeter_kg or 0:.3f} kgCO2e over {found.hours_calculated} of "
        f"{found.hours_in_month} hours; AWS (stand-in, whole month, location-based) {total.aws_kg or 0:.3f} kgCO2e",
        f"  ratio {_ratio(total.ratio)} as calculated; per calculated hour "
        f"{_ratio(total.ratio * found.per_hour_factor if total.ratio and found.per_hour_factor else None)}",
        "  `carbonmeter reconcile` prints the scopes, services, regions and the known causes of the difference",
    ]
    return "\n".join(text)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
