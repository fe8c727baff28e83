"""DynamoDB's estimate, worked by hand: the table's and its global secondary indexes' GB, on SSD, twice over.

storage_kWh = GB / 1000 x hours x 1.2 Wh per TB-hour / 1000 x replication 2 x PUE 1.135 (``storage-classes.csv``,
CCF's DynamoDB replication factor); no compute, memory, network or embodied part.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.models import Service
from tests.support.estimates import PUE, REL, US_EAST_1_KG, usage

SSD_KWH_PER_GB_HOUR = 1.2 / 1000 / 1000
PUE_LOW, PUE_HIGH = 1.04, 1.25
FLAGS = {"dynamodb_requests_not_metered", "dynamodb_size_at_collection"}


def table_usage(table_class: str, **fields: object):
    return usage(Service.DYNAMODB, table_class, **fields)


def test_a_table_and_its_indexes_are_ssd_storage_kept_twice():
    # 50 GB of table and 10 GB of indexes: 60 GB x 1.2e-6 kWh x 2 copies x 1.135 = 0.00016344 kWh
    record = estimate(table_usage("STANDARD", table_gb=50.0, indexes_gb=10.0))

    assert record.storage_kwh == pytest.approx(60 * SSD_KWH_PER_GB_HOUR * 2 * PUE, rel=REL)
    assert record.storage_kwh == pytest.approx(0.00016344, rel=REL)
    assert record.energy_kwh == record.storage_kwh
    assert record.operational_kgco2e == pytest.approx(0.00016344 * US_EAST_1_KG, rel=REL)
    assert record.compute_kwh == record.memory_kwh == record.network_kwh == record.embodied_kgco2e == 0
    assert set(record.flags) == FLAGS


def test_consumed_capacity_adds_nothing_and_the_record_says_requests_are_not_metered():
    idle = estimate(table_usage("STANDARD", table_gb=20.0))
    busy = estimate(
        table_usage("STANDARD", table_gb=20.0, consumed_read_capacity_units=5e6, consumed_write_capacity_units=1e6)
    )

    assert busy.energy_kwh == idle.energy_kwh > 0
    assert "dynamodb_requests_not_metered" in busy.flags


def test_infrequent_access_tables_are_on_the_same_ssd_replicated_alike():
    standard = estimate(table_usage("STANDARD", table_gb=300.0))
    infrequent = estimate(table_usage("STANDARD_INFREQUENT_ACCESS", table_gb=300.0))

    assert infrequent.storage_kwh == standard.storage_kwh
    assert set(infrequent.flags) == FLAGS


def test_an_unknown_table_class_is_estimated_as_standard_and_flagged():
    unknown = estimate(table_usage("STANDARD_FUTURE_CLASS", table_gb=10.0))
    standard = estimate(table_usage("STANDARD", table_gb=10.0))

    assert unknown.storage_kwh == standard.storage_kwh
    assert set(unknown.flags) == FLAGS | {"storage_class_unknown"}


def test_the_bounds_are_the_storage_band_and_the_pue_bounds():
    # +-50 % on the SSD watts per TB, then the PUE bounds 1.04 and 1.25 instead of 1.135
    record = estimate(table_usage("STANDARD", table_gb=100.0))
    central = record.energy_kwh

    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.low == pytest.approx(central * 0.5 * PUE_LOW / PUE, rel=1e-9)
    assert record.energy_kwh_range.high == pytest.approx(central * 1.5 * PUE_HIGH / PUE, rel=1e-9)
    assert record.embodied_kgco2e_range is not None
    assert (record.embodied_kgco2e_range.low, record.embodied_kgco2e_range.high) == (0, 0)


def test_an_empty_table_costs_nothing_but_is_still_a_record():
    # A table younger than its first size refresh (about six hours) reports 0 bytes, as does an empty one
    record = estimate(table_usage("STANDARD"))

    assert record.energy_kwh == record.operational_kgco2e == 0
    assert (record.service, record.resource_type) == ("dynamodb", "STANDARD")
