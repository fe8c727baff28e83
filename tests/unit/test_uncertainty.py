"""Low and high bounds of every estimate, worked out by hand from the ranges in constants.json and the data.

The bounds evaluate each formula at the ends of its inputs' ranges (docs/methodology.md, "Uncertainty").
"""

import pytest

from carbonmeter.emissions import estimate, estimate_all, load_coefficients, rollup
from carbonmeter.emissions.uncertainty import Band
from carbonmeter.models import Service
from tests.support.estimates import MEMORY_KWH, PUE, REL, US_EAST_1_KG, kwh, usage

PUE_LOW, PUE_HIGH = 1.04, 1.25  # AWS best site 2024; IDC industry average cited by AWS
M5_LARGE_EXCESS_GB_H = (384 - 81.32) * 8 / 384  # CCF memory rule for m5.large (docs worked example)
M5_HOST_KG_PER_H = 1.6103792 * 1000 / 35040 * 2 / 96  # embodied central of m5.large for one hour


def test_measured_m5_large_bounds_from_every_source_range():
    # Given m5.large measured at 50 % for one hour in us-east-1
    record = estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50))

    # Then compute spans 40-60 % utilisation (Skylake 0.65 / 4.26 W), memory spans 0.284-0.5 W per GB,
    # and the PUE spans 1.04-1.25
    compute_low, compute_high = kwh(0.65 + 0.40 * 3.61, 2), kwh(0.65 + 0.60 * 3.61, 2)
    memory_low = M5_LARGE_EXCESS_GB_H * 0.000284 * PUE
    memory_high = M5_LARGE_EXCESS_GB_H * 0.0005 * PUE
    energy_low = (compute_low + memory_low) * PUE_LOW / PUE
    energy_high = (compute_high + memory_high) * PUE_HIGH / PUE
    assert record.energy_kwh_range.low == pytest.approx(energy_low, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx(energy_high, rel=REL)
    # the grid factor's own band (CCF rows: +-15 %) multiplies in
    assert record.operational_kgco2e_range.low == pytest.approx(energy_low * US_EAST_1_KG * 0.85, rel=REL)
    assert record.operational_kgco2e_range.high == pytest.approx(energy_high * US_EAST_1_KG * 1.15, rel=REL)
    # embodied: six-year life and -30 % manufacturing at the low end, +30 % at the high end
    assert record.embodied_kgco2e_range.low == pytest.approx(M5_HOST_KG_PER_H * 4 / 6 * 0.7, rel=REL)
    assert record.embodied_kgco2e_range.high == pytest.approx(M5_HOST_KG_PER_H * 1.3, rel=REL)


def test_central_figures_are_unchanged_by_the_bounds():
    # The published m5.large figures (CCF methodology) stay the central estimate.
    record = estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50))
    assert record.compute_kwh == pytest.approx(0.00557285, rel=REL)
    assert record.memory_kwh == pytest.approx(M5_LARGE_EXCESS_GB_H * MEMORY_KWH * PUE, rel=REL)


def test_unmeasured_utilisation_spans_idle_to_full_load():
    record = estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8))

    memory_low = M5_LARGE_EXCESS_GB_H * 0.000284 * PUE
    memory_high = M5_LARGE_EXCESS_GB_H * 0.0005 * PUE
    assert record.energy_kwh_range.low == pytest.approx((kwh(0.65, 2) + memory_low) * PUE_LOW / PUE, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx((kwh(4.26, 2) + memory_high) * PUE_HIGH / PUE, rel=REL)


def test_measured_utilisation_near_the_ends_is_clamped():
    idle = estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=3))
    memory_low = M5_LARGE_EXCESS_GB_H * 0.000284 * PUE
    assert idle.energy_kwh_range.low == pytest.approx((kwh(0.65, 2) + memory_low) * PUE_LOW / PUE, rel=REL)


def test_unmeasured_burstable_spans_its_baseline_at_idle_to_every_vcpu_flat_out():
    # t3.micro: Cascade Lake 0.64 / 3.97 W; CCF scales 2 vCPUs to 0.4 at the 10 % baseline
    record = estimate(usage(Service.EC2, "t3.micro"))
    # t3 host is 8 vCPUs / 32 GiB: below the Cascade Lake baseline, so no memory energy
    assert record.memory_kwh == 0
    assert record.energy_kwh_range.low == pytest.approx(kwh(0.64, 0.4) * PUE_LOW / PUE, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx(kwh(3.97, 2) * PUE_HIGH / PUE, rel=REL)


def test_substituted_microarchitecture_widens_the_watts_by_the_generation_band():
    # m6i (Ice Lake -> Cascade Lake 0.64 / 3.97 W), measured 50 %: watts +-45 % on top of the 40-60 % band
    record = estimate(usage(Service.EC2, "m6i.large", cpu_utilization_pct=50))
    host_mem = 512 / 2 - 98.12  # m6i host: 128 vCPUs, 512 GiB, 2 chips; Cascade Lake baseline 98.12 GB
    gib_h = host_mem * 8 / 512
    low = kwh((0.64 + 0.40 * 3.33) * 0.55, 2) + gib_h * 0.000284 * PUE
    high = kwh((0.64 + 0.60 * 3.33) * 1.45, 2) + gib_h * 0.0005 * PUE
    assert record.energy_kwh_range.low == pytest.approx(low * PUE_LOW / PUE, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx(high * PUE_HIGH / PUE, rel=REL)


def test_unknown_processor_spans_every_cpu_in_the_data():
    # Lambda x86: the AWS averages centrally; bounds from the least (Graviton2/EPYC 2nd Gen 0.47 W idle) to the
    # most power-hungry CPU in processors.csv (Sandy Bridge 8.58 W at full load)
    record = estimate(usage(Service.LAMBDA, "fn", memory_mb=1792, duration_ms=3_600_000))
    excess = 1.75 - 80.69 / 96
    assert record.energy_kwh_range.low == pytest.approx(
        (kwh(0.47, 1) + excess * 0.000284 * PUE) * PUE_LOW / PUE, rel=REL
    )
    assert record.energy_kwh_range.high == pytest.approx(
        (kwh(8.58, 1) + excess * 0.0005 * PUE) * PUE_HIGH / PUE, rel=REL
    )


def test_storage_is_plus_or_minus_half_and_network_has_no_floor():
    volume = estimate(usage(Service.EBS, "gp3", storage_gb=1000))
    central = 1.2 * 2 / 1000 * PUE
    assert volume.energy_kwh_range.low == pytest.approx(central * 0.5 * PUE_LOW / PUE, rel=REL)
    assert volume.energy_kwh_range.high == pytest.approx(central * 1.5 * PUE_HIGH / PUE, rel=REL)
    assert volume.embodied_kgco2e_range.low == volume.embodied_kgco2e_range.high == 0

    traffic = estimate(usage(Service.EC2, "zz9.large", network_out_bytes=1e9))  # no capacity: network only
    assert traffic.energy_kwh_range.low == 0
    assert traffic.energy_kwh_range.high == pytest.approx(0.001 * PUE_HIGH, rel=REL)


def test_unknown_region_bounds_span_the_whole_grid_table():
    c = load_coefficients()
    record = estimate(usage(Service.EBS, "gp3", storage_gb=1000, region="us-iso-east-1"))
    factors = [f for region, f in c.grid_tco2e_per_kwh.items() if region != "unknown"]
    assert record.operational_kgco2e_range.low == pytest.approx(
        record.energy_kwh_range.low * min(factors) * 1000, rel=REL
    )
    assert record.operational_kgco2e_range.high == pytest.approx(
        record.energy_kwh_range.high * max(factors) * 1000, rel=REL
    )


def test_type_not_in_data_has_wider_embodied_bounds_than_a_known_host():
    c = load_coefficients()
    p10, p90 = c.host_embodied_tco2e_per_vcpu_extremes
    record = estimate(usage(Service.EC2, "zz9.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50))
    central = c.median_host_embodied_tco2e_per_vcpu * 2 * 1000 / 35040
    assert record.embodied_kgco2e == pytest.approx(central, rel=REL)
    assert record.embodied_kgco2e_range.low == pytest.approx(min(p10 * 2000 / 35040, central * 0.7) * 4 / 6, rel=REL)
    assert record.embodied_kgco2e_range.high == pytest.approx(max(p90 * 2000 / 35040, central * 1.3), rel=REL)


def test_rds_multi_az_doubles_the_bounds_too():
    fields = {"cpu_utilization_pct": 50, "engine": "postgres", "storage_gb": 100, "storage_type": "gp3"}
    single = estimate(usage(Service.RDS, "db.m5.large", **fields))
    multi = estimate(usage(Service.RDS, "db.m5.large", multi_az=True, **fields))
    for name in ("energy_kwh_range", "operational_kgco2e_range", "embodied_kgco2e_range"):
        assert getattr(multi, name).low == pytest.approx(2 * getattr(single, name).low, rel=REL)
        assert getattr(multi, name).high == pytest.approx(2 * getattr(single, name).high, rel=REL)


def test_every_bound_encloses_its_central_figure():
    usages = [
        usage(Service.EC2, name, cpu_utilization_pct=u, resource_id=f"{name}-{u}")
        for name in load_coefficients().instance_types
        for u in (None, 0, 100)
    ]
    for record in estimate_all(usages):
        for central, bounds in (
            (record.energy_kwh, record.energy_kwh_range),
            (record.operational_kgco2e, record.operational_kgco2e_range),
            (record.embodied_kgco2e, record.embodied_kgco2e_range),
        ):
            assert bounds.low <= central <= bounds.high, record.resource_id


def test_rollup_bounds_are_the_sums_of_the_records_bounds():
    records = estimate_all(
        [
            usage(Service.EC2, "m5.large", resource_id="i-1", cpu_utilization_pct=50),
            usage(Service.EC2, "c5.large", resource_id="i-2"),
        ]
    )
    (total,) = rollup(records)
    assert total.energy_kwh_range.low == pytest.approx(sum(r.energy_kwh_range.low for r in records), rel=REL)
    assert total.energy_kwh_range.high == pytest.approx(sum(r.energy_kwh_range.high for r in records), rel=REL)
    assert total.embodied_kgco2e_range.high == pytest.approx(sum(r.embodied_kgco2e_range.high for r in records))


def test_rollup_of_records_without_bounds_has_none_and_mixed_groups_count_the_central_figure():
    bounded = estimate(usage(Service.EBS, "gp3", storage_gb=1000, resource_id="vol-1"))
    unbounded = bounded.model_copy(
        update={
            "resource_id": "vol-2",
            "energy_kwh_range": None,
            "operational_kgco2e_range": None,
            "embodied_kgco2e_range": None,
        }
    )
    (only_unbounded,) = rollup([unbounded])
    assert only_unbounded.energy_kwh_range is None

    (mixed,) = rollup([bounded, unbounded])
    assert mixed.energy_kwh_range.low == pytest.approx(bounded.energy_kwh_range.low + unbounded.energy_kwh, rel=REL)


def test_band_never_excludes_its_central_value():
    assert Band.around(5, 6, 4) == Band(5, 5, 5)
    assert Band.exact(2).scaled(0.5, 3) == Band(1, 2, 6)
