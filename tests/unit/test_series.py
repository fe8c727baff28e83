"""The footprint's rows: by resource from the hours' records, by service from the roll-ups, period by period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import series
from carbonmeter.models import HOUR, EmissionRecord, Range, Rollup, Service
from carbonmeter.periods import FootprintWindowError, Granularity, GroupBy, PeriodRollup, day_from_hours
from tests.support.estimates import emission_record

DAY = datetime(2024, 3, 1, tzinfo=UTC)
NOON = DAY + timedelta(hours=12)  # emission_record's hour


class MemoryLedger:
    """Records and roll-ups held in memory; counts the hour partitions read."""

    def __init__(self, records=(), rollups=(), days=()) -> None:
        self.records: list[EmissionRecord] = list(records)
        self.rollups: list[Rollup] = list(rollups)
        self.days: list[PeriodRollup] = list(days)
        self.hours_read: list[datetime] = []

    def read_hour(self, connection_id: str, hour: datetime) -> list[EmissionRecord]:
        self.hours_read.append(hour)
        return [r for r in self.records if r.connection_id == connection_id and r.hour == hour]

    def iter_rollups(self, connection_id: str, start: datetime, end: datetime) -> Iterator[Rollup]:
        found = [r for r in self.rollups if r.connection_id == connection_id and start <= r.hour < end]
        return iter(sorted(found, key=lambda r: (r.hour, r.region, r.service)))

    def iter_periods(self, connection_id, granularity, start, end, group_by=None) -> Iterator[PeriodRollup]:
        return iter([p for p in self.days if p.granularity == granularity and start <= p.start < end])


def _rollup(hour: datetime, service: Service, energy: float, **extra) -> Rollup:
    return Rollup(
        connection_id="acme",
        hour=hour,
        region="us-east-1",
        service=service,
        resources=2,
        energy_kwh=energy,
        operational_kgco2e=energy / 2,
        embodied_kgco2e=0.0,
        methodology_version="1.0",
        **extra,
    )


def test_by_resource_a_day_adds_each_resource_over_its_hours_and_counts_the_hours_with_records():
    # Given two hours of i-1 (the second flagged and twice as large) and one of a bucket with two storage classes
    flagged = emission_record("i-1", hour_offset=1, scale=2.0).model_copy(update={"flags": ("cpu_default",)})
    bucket = emission_record("b-1").model_copy(update={"service": Service.S3, "resource_type": "standard"})
    archive = bucket.model_copy(update={"resource_type": "glacier", "energy_kwh_range": None})
    ledger = MemoryLedger([emission_record("i-1"), flagged, bucket, archive])
    # When the day is read by resource
    rows = list(series.rows(ledger, "acme", DAY, DAY + timedelta(days=1), Granularity.DAY, GroupBy.RESOURCE))
    # Then there is one row per resource, in order of service, region and id
    assert [row.group for row in rows] == ["ec2/us-east-1/i-1", "s3/us-east-1/b-1"]
    instance, s3 = rows
    # And each figure is the sum of its hours, bounds included (a record without bounds adds its central figure)
    assert instance.energy_kwh.central == pytest.approx(3.0)
    assert (instance.energy_kwh.low, instance.energy_kwh.high) == pytest.approx((1.5, 6.0))
    assert (s3.energy_kwh.low, s3.energy_kwh.high) == pytest.approx((0.5 + 1.0, 2.0 + 1.0))
    # And the row keeps the types, flags and methodology of its records, and the day's covered hours
    assert s3.resource_types == ("glacier", "standard")
    assert instance.flags == ("cpu_default",)
    assert instance.methodology_versions == ("test",)
    assert (instance.hours_covered, instance.hours_in_period) == (2, 24)
    # And every hour of the day was read, one partition each
    assert len(ledger.hours_read) == 24


def test_by_resource_and_hour_each_hour_is_its_own_period():
    ledger = MemoryLedger([emission_record("i-1"), emission_record("i-1", hour_offset=1)])
    rows = list(series.rows(ledger, "acme", NOON, NOON + 3 * HOUR, Granularity.HOUR, GroupBy.RESOURCE))
    assert [(row.period_start, row.hours_covered, row.hours_in_period) for row in rows] == [
        (NOON, 1, 1),
        (NOON + HOUR, 1, 1),
    ]


def test_rows_are_yielded_before_the_later_hours_are_read():
    ledger = MemoryLedger([emission_record("i-1", hour_offset=h) for h in range(5)])
    rows = series.rows(ledger, "acme", NOON, NOON + 5 * HOUR, Granularity.HOUR, GroupBy.RESOURCE)
    first = next(rows)
    assert first.period_start == NOON
    assert ledger.hours_read == [NOON]


def test_by_service_and_hour_the_roll_ups_give_one_row_per_service_with_their_flags():
    rollups = [
        _rollup(NOON, Service.EC2, 1.0, flagged_resources={"cpu_default": 1}),
        _rollup(NOON, Service.S3, 0.5, energy_kwh_range=Range(low=0.25, high=1.0)),
        _rollup(NOON + HOUR, Service.EC2, 2.0),
    ]
    rows = list(series.rows(MemoryLedger(rollups=rollups), "acme", NOON, NOON + 2 * HOUR, Granularity.HOUR,
                            GroupBy.SERVICE))  # fmt: skip
    assert [(row.period_start, row.service, row.energy_kwh.central) for row in rows] == [
        (NOON, "ec2", 1.0),
        (NOON, "s3", 0.5),
        (NOON + HOUR, "ec2", 2.0),
    ]
    assert rows[0].flags == ("cpu_default",)
    assert (rows[1].energy_kwh.low, rows[1].energy_kwh.high) == (0.25, 1.0)
    assert rows[0].region is None


def test_by_service_and_region_a_stored_day_gives_its_groups_with_its_partial_hour_count():
    day = day_from_hours("acme", DAY, [_rollup(NOON, Service.EC2, 1.0, flagged_resources={"f": 2})], hours=9)
    rows = list(series.rows(MemoryLedger(days=[day]), "acme", DAY, DAY + timedelta(days=1), Granularity.DAY,
                            GroupBy.SERVICE_REGION))  # fmt: skip
    assert [(row.service, row.region, row.group) for row in rows] == [("ec2", "us-east-1", "ec2/us-east-1")]
    assert (rows[0].hours_covered, rows[0].hours_in_period) == (9, 24)
    assert rows[0].flags == ("f",)


def test_a_day_window_off_midnight_is_refused_before_anything_is_read():
    ledger = MemoryLedger()
    with pytest.raises(FootprintWindowError, match="midnight UTC"):
        series.rows(ledger, "acme", NOON, NOON + timedelta(days=1), Granularity.DAY, GroupBy.RESOURCE)
    assert ledger.hours_read == []


def test_the_footprint_by_resource_totals_its_rows_and_sums_the_hours_covered():
    ledger = MemoryLedger([emission_record("i-1"), emission_record("i-2", hour_offset=1)])
    found = series.footprint(ledger, "acme", NOON, NOON + 2 * HOUR, Granularity.HOUR, GroupBy.RESOURCE)
    assert [point.group for point in found.series] == ["ec2/us-east-1/i-1", "ec2/us-east-1/i-2"]
    assert found.totals["energy_kwh"].central == pytest.approx(2.0)
    assert (found.hours_covered, found.hours_in_range) == (2, 2)


def test_a_day_keeps_each_flag_with_the_most_resources_flagged_in_any_one_hour():
    # Given a flag on one resource in the first hour and on two in the second, and a service flagged once
    rollups = [
        _rollup(NOON, Service.EC2, 1.0, flagged_resources={"cpu_default": 1}),
        _rollup(NOON + HOUR, Service.EC2, 1.0, flagged_resources={"cpu_default": 2, "grid_factor_world_average": 2}),
        _rollup(NOON + HOUR, Service.S3, 1.0, flagged_resources={"cpu_default": 1}),
    ]
    day = day_from_hours("acme", DAY, rollups, hours=2)
    # Then the service group keeps the most of any hour, the region group the sum of its services in that hour
    (ec2,) = [g for g in day.of(GroupBy.SERVICE) if g.group == "ec2"]
    assert ec2.flagged_resources == {"cpu_default": 2, "grid_factor_world_average": 2}
    (region,) = day.of(GroupBy.REGION)
    assert region.flagged_resources == {"cpu_default": 3, "grid_factor_world_average": 2}
