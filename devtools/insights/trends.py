"""The demo report's "Trends" part: the demo's days from their day roll-ups, and the change between them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonmeter import report
from carbonmeter.insights.trends import TrendPeriod, trend
from carbonmeter.periods import Granularity
from carbonmeter.store import EmissionStore

if TYPE_CHECKING:  # the registry imports this module: a runtime import of it would be circular
    from devtools.insights import InsightContext

HEADERS = ["day (UTC)", "hours", "total CO2e", "CO2e per hour", "change per hour"]


def trends_text(context: InsightContext) -> str:
    """The days the demo's hours touch, with their hour counts: a part day's total is not a whole day's."""
    store = EmissionStore(context.clients, context.settings.emissions_table)
    found = trend(store, context.connection_id, context.start, context.end, Granularity.DAY)
    if not found.periods:
        return ""
    partial = sum(1 for period in found.periods if period.hours_covered < period.hours_in_period)
    lines = [
        "Trends: CO2e day by day, from the day roll-ups",
        "",
        report.table(HEADERS, [_row(period) for period in found.periods]),
        "",
        f"hours: calculated of the day's; {partial} of {len(found.periods)} day(s) partial, so compare the rate "
        "per hour, not the totals",
    ]
    return "\n".join(lines)


def _row(period: TrendPeriod) -> list[object]:
    total = period.total_kgco2e
    hours = period.hours_covered
    per_hour = report.Estimate(total.central / hours, total.low / hours, total.high / hours, "mass") if hours else "-"
    change = "-" if period.change_per_hour is None else f"{period.change_per_hour:+.1%}"
    return [
        f"{period.start:%Y-%m-%d}",
        f"{hours}/{period.hours_in_period}",
        report.Estimate(total.central, total.low, total.high, "mass"),
        per_hour,
        change,
    ]
