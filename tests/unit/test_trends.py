"""Trends: the days a window touches, their hour counts, and the change of their rate per calculated hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter.insights.trends import trend
from carbonmeter.models import Rollup, Service
from carbonmeter.periods import Granularity, day_from_hours

END = datetime(2026, 12, 1, 9, tzinfo=UTC)
START = END - timedelta(hours=48)


class Days:
    def __init__(self, days):
        self.days = days
        self.asked = None

    def iter_periods(self, connection_id, granularity, start, end):
        self.asked = (granularity, start, end)
        return iter([d for d in self.days if start <= d.start < end])


def _day(day: datetime, hours: int, kg_per_hour: float):
    rollups = [
        Rollup(
            connection_id="demo",
            hour=day + timedelta(hours=h),
            region=region,
            service=Service.EC2,
            resources=1,
            energy_kwh=1.0,
            operational_kgco2e=kg_per_hour / 2 * 0.8,
            embodied_kgco2e=kg_per_hour / 2 * 0.2,
            methodology_version="1",
        )
        for h in range(hours)
        for region in ("us-east-1", "eu-west-1")
    ]
    return day_from_hours("demo", day, rollups, hours)


def test_partial_days_carry_their_hour_counts_and_the_change_is_per_calculated_hour():
    # Given 48 hours ending at 09:00: 15 hours of the first day, 24 of the second, 9 of the third
    days = [
        _day(datetime(2026, 11, 29, 9, tzinfo=UTC).replace(hour=0), 15, 1.0),
        _day(datetime(2026, 11, 30, tzinfo=UTC), 24, 1.1),
        _day(datetime(2026, 12, 1, tzinfo=UTC), 9, 1.1),
    ]
    ledger = Days(days)
    # When the trend by day is asked
    found = trend(ledger, "demo", START, END, Granularity.DAY)
    # Then the three days the window touches are read in one range
    assert ledger.asked == (Granularity.DAY, datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    assert [(p.hours_covered, p.hours_in_period) for p in found.periods] == [(15, 24), (24, 24), (9, 24)]
    # And the totals are each day's; the change compares the rates per hour, not the partial totals
    assert [p.total_kgco2e.central for p in found.periods] == pytest.approx([15.0, 26.4, 9.9])
    assert [p.kgco2e_per_hour for p in found.periods] == pytest.approx([1.0, 1.1, 1.1])
    assert found.periods[0].change_per_hour is None
    assert found.periods[1].change_per_hour == pytest.approx(0.1)
    assert found.periods[2].change_per_hour == pytest.approx(0.0)


def test_a_trend_by_hour_is_refused():
    with pytest.raises(ValueError, match="by day or by month"):
        trend(Days([]), "demo", START, END, Granularity.HOUR)
