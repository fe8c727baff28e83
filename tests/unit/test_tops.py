"""The tops of hours, days and months: kept, merged with their bounds, ranked over a range, and small when stored."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import periods, tops
from carbonmeter.emissions import rollup
from carbonmeter.models import HOUR, EmissionRecord
from carbonmeter.periods import Granularity, PeriodRollup, cover, period_start
from carbonmeter.store import period_item
from carbonmeter.top_resources import TopCountError, top_resources
from carbonmeter.tops import TOP_KEPT, ResourceTop
from tests.support.tops import emission, exact_sums, fleet_hours, largest

CONNECTION = "acme"
DAY = datetime(2026, 11, 29, tzinfo=UTC)


class MemoryTops:
    """The stored tops of a fleet's hours, days and months, merged as the calculator merges them, each period
    keeping ``keep``: what ``top_resources`` reads."""

    def __init__(self, hours: dict[datetime, list[EmissionRecord]], keep: int = TOP_KEPT) -> None:
        self.tops = {hour: tops.of_records(records, keep) for hour, records in hours.items()}
        self.with_figures = {hour for hour, records in hours.items() if records}
        self.days = self._merged(self.tops, Granularity.DAY, keep)
        self.months = self._merged({day.start: day.top for day in self.days.values()}, Granularity.MONTH, keep)
        self.reads = 0

    def _merged(self, parts, granularity: Granularity, keep: int) -> dict[datetime, PeriodRollup]:
        grouped: dict[datetime, list[ResourceTop]] = defaultdict(list)
        for start, top in sorted(parts.items()):
            grouped[period_start(start, granularity)].append(top)
        return {
            start: PeriodRollup(
                connection_id=CONNECTION,
                granularity=granularity,
                start=start,
                hours_covered=sum(1 for hour in self.tops if period_start(hour, granularity) == start),
                hours_in_period=periods.hours_in(start, granularity),
                top=tops.merge(found, keep),
            )
            for start, found in grouped.items()
        }

    def hour_tops(self, connection_id: str, start: datetime, end: datetime) -> dict[datetime, ResourceTop]:
        self.reads += 1
        return {hour: top for hour, top in self.tops.items() if start <= hour < end}

    def rollup_hours(self, connection_id: str, start: datetime, end: datetime) -> set[datetime]:
        self.reads += 1
        return {hour for hour in self.with_figures if start <= hour < end}

    def period_tops(
        self, connection_id: str, granularity: Granularity, start: datetime, end: datetime
    ) -> list[PeriodRollup]:
        self.reads += 1
        stored = self.days if granularity is Granularity.DAY else self.months
        return [period for begin, period in sorted(stored.items()) if start <= begin < end]


def test_an_hours_top_adds_up_a_resources_types_and_keeps_the_largest_with_the_rest_bounded():
    # Given an hour of four resources, one of them a bucket of two storage classes
    records = [
        emission(CONNECTION, DAY, 1, 1.0, "STANDARD"),
        emission(CONNECTION, DAY, 1, 2.5, "GLACIER"),
        emission(CONNECTION, DAY, 2, 3.0),
        emission(CONNECTION, DAY, 3, 0.5),
        emission(CONNECTION, DAY, 4, 0.25),
    ]
    # When it keeps its two largest
    top = tops.of_records(records, keep=2)
    # Then the bucket is one resource of both classes, largest first, and the rest is bounded by the third
    assert [(r.resource_id, r.resource_types) for r in top.resources] == [
        ("r-00001", ("GLACIER", "STANDARD")),
        ("r-00002", ("m5.large",)),
    ]
    assert top.resources[0].kgco2e == pytest.approx(3.5)
    assert top.resources[0].operational_kgco2e.low == pytest.approx(3.5 * 0.4)
    assert top.rest_kgco2e == pytest.approx(0.5)
    assert top.resource_count == 4
    # And an hour that keeps all of them bounds nothing
    assert tops.of_records(records).rest_kgco2e == 0.0


def test_when_no_hour_had_more_than_it_keeps_the_top_is_the_exact_sums():
    # Given three days of twelve resources, some absent from some hours
    hours = fleet_hours(CONNECTION, DAY, DAY + timedelta(days=3), resources=12, present=0.7)
    exact = exact_sums(record for records in hours.values() for record in records)
    # When the top 10 is read over the three days and some hours around
    found = top_resources(MemoryTops(hours), CONNECTION, DAY + 5 * HOUR, DAY + timedelta(days=3) - 2 * HOUR, 10)
    within = exact_sums(
        record for hour, records in hours.items() if DAY + 5 * HOUR <= hour < DAY + 70 * HOUR for record in records
    )
    # Then it is the ten largest, each with its exact sums, every rank certain and nothing left unbounded
    assert [(r.service, r.region, r.resource_id) for r in found.resources] == list(largest(within, 10))
    for resource in found.resources:
        sums = within[(resource.service, resource.region, resource.resource_id)]
        assert resource.kgco2e == pytest.approx(sums.kgco2e)
        assert resource.energy_kwh.central == pytest.approx(sums.energy_kwh)
        assert resource.operational_kgco2e.low + resource.embodied_kgco2e.low == pytest.approx(sums.low_kgco2e)
        assert resource.operational_kgco2e.high + resource.embodied_kgco2e.high == pytest.approx(sums.high_kgco2e)
        assert resource.exact
        assert resource.most_kgco2e == resource.kgco2e
    assert found.exact
    assert found.rest_most_kgco2e == pytest.approx(within[largest(within, 11)[-1]].kgco2e)
    assert found.hours_in_range == 65
    assert found.hours_covered == 65
    assert found.hours_unknown == 0
    assert found.resource_count <= 12
    assert len(exact) == 12


@pytest.mark.parametrize(("seed", "dominant"), [(1, 0), (2, 0), (3, 3), (4, 3)])
def test_when_hours_are_cut_every_figure_is_bounded_and_a_certain_rank_is_the_true_one(seed, dominant):
    # Given two months of forty resources where every hour, day and month keeps only its six largest (with a few
    # resources far larger than the rest, or none)
    start, end = datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 12, 2, 5, tzinfo=UTC)
    hours = fleet_hours(CONNECTION, start, end, resources=40, seed=seed, present=0.8, dominant=dominant)
    exact = exact_sums(record for records in hours.values() for record in records)
    ledger = MemoryTops(hours, keep=6)
    # When the top 5 of the whole range is read (days, a whole month, days and hours)
    found = top_resources(ledger, CONNECTION, start + 3 * HOUR, end, 5)
    in_range = exact_sums(r for hour, records in hours.items() if hour >= start + 3 * HOUR for r in records)
    # Then each listed resource's least and most bound its true figure
    listed = {(r.service, r.region, r.resource_id) for r in found.resources}
    for resource in found.resources:
        true = in_range[(resource.service, resource.region, resource.resource_id)].kgco2e
        assert resource.kgco2e <= true * (1 + 1e-9)
        assert true <= resource.most_kgco2e * (1 + 1e-9)
    # And no resource left out emitted more than the rest's bound
    assert all(
        sums.kgco2e <= found.rest_most_kgco2e * (1 + 1e-9) for key, sums in in_range.items() if key not in listed
    )
    # And a rank said to be certain is the resource's true rank
    truth = list(largest(in_range, len(in_range)))
    for resource in found.resources:
        if resource.rank_certain:
            assert truth.index((resource.service, resource.region, resource.resource_id)) + 1 == resource.rank
    assert not found.exact
    assert len(exact) == 40
    # And the resources far larger than the rest have ranks known for certain
    assert sum(resource.rank_certain for resource in found.resources) >= dominant
    # And whatever the range's length, a handful of reads: hours (2 each end), days (each side), a month
    assert ledger.reads <= 7


def test_a_day_stored_before_tops_were_kept_counts_its_hours_as_unknown():
    # Given two days, the first of them stored before tops were kept
    hours = fleet_hours(CONNECTION, DAY, DAY + timedelta(days=2), resources=5)
    ledger = MemoryTops(hours)
    ledger.days[DAY] = ledger.days[DAY].model_copy(update={"top": None})
    # When the top of both days is read
    found = top_resources(ledger, CONNECTION, DAY, DAY + timedelta(days=2), 3)
    # Then the first day's hours are unknown, said so, and no rank is certain
    assert found.hours_unknown == 24
    assert found.hours_covered == 48
    assert not found.exact
    assert not any(resource.rank_certain for resource in found.resources)
    # And a month merged from such a day counts them too
    month = periods.month_from_days(CONNECTION, DAY.replace(day=1), list(ledger.days.values()), 48)
    assert month.top is not None
    assert month.top.hours_unknown == 24


def test_a_day_with_hours_calculated_before_tops_were_kept_counts_them_as_unknown():
    # Given a day of two calculated hours, only the second with a top
    records = {hour: [emission(CONNECTION, hour, 1, 1.0)] for hour in (DAY, DAY + HOUR)}
    rollups = [r for hour_records in records.values() for r in rollup(hour_records)]
    hour_tops = {DAY + HOUR: tops.of_records(records[DAY + HOUR])}
    # When the day is recomputed
    day = periods.day_from_hours(CONNECTION, DAY, rollups, 2, hour_tops)
    # Then its top is the second hour's, and the first hour is unknown
    assert day.top is not None
    assert day.top.hours_unknown == 1
    assert day.top.resources[0].kgco2e == pytest.approx(1.0)


@pytest.mark.parametrize("count", [0, TOP_KEPT + 1])
def test_a_count_beyond_what_the_periods_keep_is_refused_naming_it(count):
    with pytest.raises(TopCountError, match=f"count: from 1 to {TOP_KEPT}"):
        top_resources(MemoryTops({}), CONNECTION, DAY, DAY + HOUR, count)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "parts"),
    [
        ("2026-11-30T05", "2026-11-30T09", [("hour", "2026-11-30T05", "2026-11-30T09")]),
        ("2026-11-01T00", "2026-12-01T00", [("month", "2026-11-01T00", "2026-12-01T00")]),
        (
            "2025-12-02T05",
            "2026-12-02T03",
            [
                ("hour", "2025-12-02T05", "2025-12-03T00"),
                ("day", "2025-12-03T00", "2026-01-01T00"),
                ("month", "2026-01-01T00", "2026-12-01T00"),
                ("day", "2026-12-01T00", "2026-12-02T00"),
                ("hour", "2026-12-02T00", "2026-12-02T03"),
            ],
        ),
        (
            "2026-11-29T05",
            "2026-12-01T03",
            [
                ("hour", "2026-11-29T05", "2026-11-30T00"),
                ("day", "2026-11-30T00", "2026-12-01T00"),
                ("hour", "2026-12-01T00", "2026-12-01T03"),
            ],
        ),
    ],
)
def test_a_range_is_read_as_hours_at_its_ends_whole_days_and_whole_months(start, end, parts):
    expected = [(Granularity(g), _at(s), _at(e)) for g, s, e in parts]
    assert cover(_at(start), _at(end)) == expected


LONG_ID = "arn:aws:rds:eu-west-1:123456789012:db:" + "x" * 60


def _fleet_hour(hour: datetime, lead: int) -> list[EmissionRecord]:
    """An hour of 10,000 resources with long ids (ARN-like); ``lead`` shifts which of them emit the most."""
    return [
        emission(CONNECTION, hour, number, 1.0 + ((number + lead) % 10_000) / 100).model_copy(
            update={"resource_id": f"{LONG_ID}-{number:05d}"}
        )
        for number in range(10_000)
    ]


def _renamed(top: ResourceTop, suffix: int) -> ResourceTop:
    # Other resources leading in each hour, without building 240,000 records.
    renamed = tuple(r.model_copy(update={"resource_id": f"{r.resource_id}-{suffix}"}) for r in top.resources)
    return top.model_copy(update={"resources": renamed})


def test_a_days_item_stays_far_under_dynamodbs_400_kb_at_10000_resources():
    # Given a day of hours of 10,000 resources, each hour led by other resources
    fleets = [_fleet_hour(DAY + offset * HOUR, offset * 3_997) for offset in range(2)]
    base = [tops.of_records(records) for records in fleets]
    hour_tops = {DAY + offset * HOUR: _renamed(base[offset % 2], offset) for offset in range(24)}
    rollups = [r for records in fleets for r in rollup(records)]
    # When the day is merged and written as an item
    day = periods.day_from_hours(CONNECTION, DAY, rollups, 24, hour_tops)
    item = period_item(day)
    top_bytes = len(item["top"].encode())
    item_bytes = sum(len(name.encode()) + len(json.dumps(value, default=str).encode()) for name, value in item.items())
    # Then it keeps its 50 largest of the 1,200 candidates in some tens of KB, and the item stays far under 400 KB
    assert day.top is not None
    assert len(day.top.resources) == TOP_KEPT
    assert day.top.resource_count == 10_000
    assert day.top.rest_kgco2e > 0
    assert top_bytes < 40_000
    assert item_bytes < 100_000
    # And an hour's top is as small
    assert len(base[0].model_dump_json(exclude_defaults=True).encode()) < 40_000
