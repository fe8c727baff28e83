"""Daily and monthly roll-ups: recomputed from their parts, safe under concurrent refreshes, read as a footprint."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter.models import HOUR, Range, Rollup, Service
from carbonmeter.periods import (
    Claim,
    Figure,
    FootprintWindowError,
    Granularity,
    GroupBy,
    PeriodRollup,
    breakdown,
    cover,
    day_from_hours,
    footprint,
    hours_in,
    month_from_days,
    period_end,
    period_start,
    refresh_periods,
)
from carbonmeter.tops import ResourceTop

CONNECTION = "acme"
DAY = datetime(2026, 11, 30, tzinfo=UTC)


def _rollup(hour: datetime, region: str, service: Service, energy: float, resources: int = 2) -> Rollup:
    return Rollup(
        connection_id=CONNECTION,
        hour=hour,
        region=region,
        service=service,
        resources=resources,
        energy_kwh=energy,
        operational_kgco2e=energy * 0.4,
        embodied_kgco2e=0.1,
        methodology_version="1.2",
        energy_kwh_range=Range(low=energy * 0.5, high=energy * 2),
        operational_kgco2e_range=Range(low=energy * 0.2, high=energy * 0.8),
    )


class Ledger:
    """An in-memory store keeping the one rule that matters: a period is written only by a later generation."""

    def __init__(self) -> None:
        self.hourly: list[Rollup] = []
        self.tops: dict[datetime, ResourceTop] = {}
        self.generations: dict[tuple[Granularity, datetime], int] = {}
        self.claimed: dict[tuple[Granularity, datetime], set[datetime]] = {}
        self.stored: dict[tuple[Granularity, datetime], tuple[int, PeriodRollup]] = {}

    def claim_period(self, connection_id: str, granularity: Granularity, start: datetime, hour: datetime) -> Claim:
        key = (granularity, start)
        self.generations[key] = self.generations.get(key, 0) + 1
        self.claimed.setdefault(key, set()).add(hour)
        return Claim(generation=self.generations[key], hours=len(self.claimed[key]))

    def rollups(self, connection_id: str, start: datetime, end: datetime) -> list[Rollup]:
        return [r for r in self.hourly if start <= r.hour < end]

    def hour_tops(self, connection_id: str, start: datetime, end: datetime) -> dict[datetime, ResourceTop]:
        return {hour: top for hour, top in self.tops.items() if start <= hour < end}

    def periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
        *,
        with_top: bool = False,
    ) -> list[PeriodRollup]:
        return sorted(
            (period for (g, s), (_, period) in self.stored.items() if g == granularity and start <= s < end),
            key=lambda period: period.start,
        )

    def put_period(self, period: PeriodRollup, generation: int) -> bool:
        key = (period.granularity, period.start)
        if key in self.stored and self.stored[key][0] >= generation:
            return False
        self.stored[key] = (generation, period)
        return True


def _calculate(ledger: Ledger, hour: datetime, energy: float) -> None:
    """What the calculator does for one hour: replace its hourly roll-ups, then refresh its day and month."""
    ledger.hourly = [r for r in ledger.hourly if r.hour != hour]
    ledger.hourly += [_rollup(hour, "eu-west-1", Service.EC2, energy), _rollup(hour, "us-east-1", Service.S3, 1.0)]
    refresh_periods(ledger, CONNECTION, hour)


def test_a_day_adds_its_hours_up_by_service_by_region_and_by_both():
    hours = [DAY, DAY + HOUR]
    rollups = [_rollup(h, region, Service.EC2, 2.0) for h in hours for region in ("eu-west-1", "us-east-1")]
    day = day_from_hours(CONNECTION, DAY, rollups, hours=2)
    ec2 = day.of(GroupBy.SERVICE)
    assert [(g.group, g.energy_kwh) for g in ec2] == [("ec2", Figure(central=8.0, low=4.0, high=16.0))]
    assert [g.group for g in day.of(GroupBy.REGION)] == ["eu-west-1", "us-east-1"]
    assert [g.group for g in day.of(GroupBy.SERVICE_REGION)] == ["ec2/eu-west-1", "ec2/us-east-1"]
    # Embodied without bounds counts its central figure as both bounds
    embodied = ec2[0].embodied_kgco2e
    assert (embodied.central, embodied.low, embodied.high) == pytest.approx((0.4, 0.4, 0.4))
    # And resources are the most in any hour, not resource-hours
    assert ec2[0].resources == 4
    assert (day.hours_covered, day.hours_in_period) == (2, 24)


def test_a_month_adds_its_days_up_and_counts_its_hours():
    days = [day_from_hours(CONNECTION, DAY - timedelta(days=i), [_rollup(DAY, "eu-west-1", Service.EC2, 1.0)], 24)
            for i in range(3)]  # fmt: skip
    month = month_from_days(CONNECTION, period_start(DAY, Granularity.MONTH), days, hours=72)
    assert month.of(GroupBy.SERVICE)[0].energy_kwh.central == pytest.approx(3.0)
    assert (month.hours_covered, month.hours_in_period) == (72, 720)


@pytest.mark.parametrize(
    ("start", "granularity", "hours"),
    [
        (datetime(2028, 2, 1, tzinfo=UTC), Granularity.MONTH, 29 * 24),
        (datetime(2026, 12, 1, tzinfo=UTC), Granularity.MONTH, 31 * 24),
        (DAY, Granularity.DAY, 24),
    ],
)
def test_periods_are_utc_days_and_calendar_months(start, granularity, hours):
    assert hours_in(start, granularity) == hours
    assert period_start(period_end(start, granularity) - HOUR, granularity) == start


def test_recalculating_an_hour_or_collecting_it_twice_leaves_every_period_the_same():
    # Given three hours calculated
    ledger = Ledger()
    for offset, energy in enumerate((1.0, 2.0, 3.0)):
        _calculate(ledger, DAY + offset * HOUR, energy)
    before = {key: period for key, (_, period) in ledger.stored.items()}
    # When the middle hour is calculated again, twice, with the same usage
    _calculate(ledger, DAY + HOUR, 2.0)
    _calculate(ledger, DAY + HOUR, 2.0)
    # Then every day and month is exactly what it was
    assert {key: period for key, (_, period) in ledger.stored.items()} == before
    assert before[(Granularity.DAY, DAY)].hours_covered == 3


def test_a_recalculated_hour_replaces_its_old_figures_rather_than_adding_to_them():
    ledger = Ledger()
    _calculate(ledger, DAY, 1.0)
    _calculate(ledger, DAY, 5.0)
    day = ledger.stored[(Granularity.DAY, DAY)][1]
    ec2 = next(g for g in day.of(GroupBy.SERVICE) if g.group == "ec2")
    assert ec2.energy_kwh.central == pytest.approx(5.0)


def test_a_refresh_that_read_its_parts_before_another_hour_landed_cannot_overwrite_the_later_one():
    # Given two calculators on hours of the same day: A claims and reads before B's hour is written
    ledger = Ledger()
    ledger.hourly = [_rollup(DAY, "eu-west-1", Service.EC2, 1.0)]
    a = ledger.claim_period(CONNECTION, Granularity.DAY, DAY, DAY)
    a_parts = ledger.rollups(CONNECTION, DAY, DAY + timedelta(days=1))
    # When B writes its hour, claims, reads both hours and writes the day first
    ledger.hourly.append(_rollup(DAY + HOUR, "eu-west-1", Service.EC2, 2.0))
    b = ledger.claim_period(CONNECTION, Granularity.DAY, DAY, DAY + HOUR)
    b_parts = ledger.rollups(CONNECTION, DAY, DAY + timedelta(days=1))
    assert ledger.put_period(day_from_hours(CONNECTION, DAY, b_parts, b.hours), b.generation)
    # Then A's stale day, missing B's hour, is refused, and the stored day holds both hours
    assert not ledger.put_period(day_from_hours(CONNECTION, DAY, a_parts, a.hours), a.generation)
    stored = ledger.stored[(Granularity.DAY, DAY)][1]
    assert stored.of(GroupBy.SERVICE)[0].energy_kwh.central == pytest.approx(3.0)
    assert stored.hours_covered == 2


def test_a_footprint_by_month_reads_the_months_and_adds_up_their_totals():
    ledger = Ledger()
    _calculate(ledger, DAY, 1.0)
    _calculate(ledger, DAY + timedelta(days=1), 2.0)  # 1 December: the next month
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    found = footprint(ledger, CONNECTION, start, end, Granularity.MONTH, GroupBy.SERVICE)
    assert [(p.period_start.month, p.group) for p in found.series] == [(11, "ec2"), (11, "s3"), (12, "ec2"), (12, "s3")]
    assert found.totals["energy_kwh"].central == pytest.approx(1.0 + 1.0 + 2.0 + 1.0)
    assert found.totals["energy_kwh"].high == pytest.approx(2.0 + 2.0 + 4.0 + 2.0)
    assert (found.hours_covered, found.hours_in_range) == (2, (30 + 31) * 24)


def test_a_footprint_by_hour_reads_the_hourly_roll_ups():
    ledger = Ledger()
    _calculate(ledger, DAY, 1.0)
    found = footprint(ledger, CONNECTION, DAY, DAY + 2 * HOUR, Granularity.HOUR, GroupBy.REGION)
    assert [(p.group, p.energy_kwh.central) for p in found.series] == [("eu-west-1", 1.0), ("us-east-1", 1.0)]
    assert (found.hours_covered, found.hours_in_range) == (1, 2)


@pytest.mark.parametrize(
    ("start", "granularity", "message"),
    [
        (DAY + HOUR, Granularity.DAY, "start must be midnight UTC"),
        (DAY, Granularity.MONTH, "start must be the first of a month"),
    ],
)
def test_a_window_off_the_periods_is_refused_with_what_it_must_be(start, granularity, message):
    with pytest.raises(FootprintWindowError, match=message):
        footprint(Ledger(), CONNECTION, start, start + timedelta(days=62), granularity, GroupBy.SERVICE)


class CountingLedger(Ledger):
    """The ledger, counting the periods read at each granularity and the hours read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[Granularity] = []

    def rollups(self, connection_id: str, start: datetime, end: datetime) -> list[Rollup]:
        self.reads.append(Granularity.HOUR)
        return super().rollups(connection_id, start, end)

    def periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
        *,
        with_top: bool = False,
    ) -> list[PeriodRollup]:
        self.reads.append(granularity)
        return super().periods(connection_id, granularity, start, end, group_by, with_top=with_top)


# Hours every 13 hours from late October into December: days and months cut at every edge, and several of each.
SPREAD = [datetime(2026, 10, 28, 5, tzinfo=UTC) + n * 13 * HOUR for n in range(70)]
WINDOWS = [
    (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),  # whole months
    (datetime(2026, 10, 28, 7, tzinfo=UTC), datetime(2026, 12, 2, 9, tzinfo=UTC)),  # hours, days, a month
    (datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),  # days inside one month
    (datetime(2026, 11, 5, 3, tzinfo=UTC), datetime(2026, 11, 6, 2, tzinfo=UTC)),  # less than a day
]


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_cover_cuts_a_window_into_contiguous_whole_periods_largest_inside(start, end):
    segments = cover(start, end)
    # Contiguous, from start to end
    assert segments[0][1] == start
    assert segments[-1][2] == end
    assert all(left[2] == right[1] for left, right in itertools.pairwise(segments))
    # Each of whole periods of its granularity; hours never hold a whole day, days never a whole month
    for granularity, left, right in segments:
        assert period_start(left, granularity) == left
        assert period_start(right, granularity) == right
        larger = {Granularity.HOUR: Granularity.DAY, Granularity.DAY: Granularity.MONTH}.get(granularity)
        if larger is not None:
            first = period_start(left, larger)
            first = first if first == left else period_end(first, larger)
            assert period_end(first, larger) > right, (granularity, left, right)


@pytest.mark.parametrize(("start", "end"), WINDOWS)
@pytest.mark.parametrize("group_by", [GroupBy.SERVICE, GroupBy.REGION, GroupBy.SERVICE_REGION])
def test_a_breakdown_is_the_windows_hours_added_up_per_group(start, end, group_by):
    # Given hours calculated across days and months
    ledger = CountingLedger()
    for number, hour in enumerate(SPREAD):
        _calculate(ledger, hour, 1.0 + number % 7)
    # When the window's groups are asked for
    found = breakdown(ledger, CONNECTION, start, end, group_by)
    # Then each is what its hours add up to, read hour by hour
    hourly = footprint(ledger, CONNECTION, start, end, Granularity.HOUR, group_by)
    expected: dict[str, float] = {}
    for point in hourly.series:
        expected[point.group] = expected.get(point.group, 0.0) + point.energy_kwh.high
    assert {group.group: group.energy_kwh.high for group in found.groups} == pytest.approx(expected)
    assert found.totals["operational_kgco2e"].low == pytest.approx(hourly.totals["operational_kgco2e"].low)
    assert (found.hours_covered, found.hours_in_range) == (hourly.hours_covered, hourly.hours_in_range)
    # And the largest come first
    totals = [group.operational_kgco2e.central + group.embodied_kgco2e.central for group in found.groups]
    assert totals == sorted(totals, reverse=True)


def test_a_years_breakdown_reads_its_months_and_only_the_edges_by_day_and_hour():
    ledger = CountingLedger()
    for hour in SPREAD:
        _calculate(ledger, hour, 1.0)
    ledger.reads.clear()
    breakdown(
        ledger, CONNECTION, datetime(2025, 12, 2, 5, tzinfo=UTC), datetime(2026, 12, 2, 5, tzinfo=UTC), GroupBy.SERVICE
    )
    # Hours of 2 December 2025 05:00 on, the rest of December by day, January to November as months, 1 December
    # by day, and 2 December's first hours: five reads for a year
    assert ledger.reads == [Granularity.HOUR, Granularity.DAY, Granularity.MONTH, Granularity.DAY, Granularity.HOUR]


def test_a_breakdown_by_resource_is_refused_as_not_in_the_roll_ups():
    with pytest.raises(ValueError, match="resources are not in the roll-ups"):
        breakdown(Ledger(), CONNECTION, DAY, DAY + HOUR, GroupBy.RESOURCE)
