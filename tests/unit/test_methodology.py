"""The pure formulas, checked against figures published by Cloud Carbon Footprint (CCF) and by hand."""

import pytest

from carbonmeter.emissions import methodology as m

REL = 1e-9


def test_compute_reproduces_ccf_core_compute_estimator_figure():
    # Source: CCF packages/core/src/compute/__tests__/ComputeEstimator.test.ts ("do estimates for AWS"):
    # 1 % utilisation, 1 vCPU-hour, min 0.71 W, max 3.46 W, PUE 1.135, replication 2, 0.000415755 t/kWh
    # -> kilowattHours 0.0016741249999999998, co2e 6.960258393749999e-7 t.
    kwh = m.compute_kwh(0.71, 3.46, utilisation_pct=1.0, vcpu_hours=1.0, pue=1.135, replication_factor=2)

    assert kwh == pytest.approx(0.0016741249999999998, rel=REL)
    assert m.operational_co2e(kwh, 0.000415755) == pytest.approx(6.960258393749999e-7, rel=REL)


def test_compute_reproduces_ccf_default_replication_figure():
    # Source: same CCF test file, "do estimates for AWS South Africa with default replication factor":
    # the same usage without replication is half the energy.
    kwh = m.compute_kwh(0.71, 3.46, utilisation_pct=1.0, vcpu_hours=1.0, pue=1.135)

    assert kwh == pytest.approx(0.0016741249999999998 / 2, rel=REL)


def test_average_watts_interpolates_linearly_between_idle_and_full_load():
    assert m.average_watts(0.65, 4.26, 0) == 0.65
    assert m.average_watts(0.65, 4.26, 100) == pytest.approx(4.26, rel=REL)
    assert m.average_watts(0.65, 4.26, 50) == pytest.approx(2.455, rel=REL)


def test_m5_large_compute_and_memory_match_ccf_methodology():
    # Source: CCF methodology (microsite/docs/Methodology.md, Compute and Memory sections) with its published
    # Skylake coefficients (0.65 / 4.26 W, 81.32 GB per chip) and the m5 host (96 vCPUs, 384 GiB):
    # m5.large, one hour at 50 % -> 0.00557285 kWh compute, 0.00280559 kWh memory.
    compute = m.compute_kwh(0.65, 4.26, 50, vcpu_hours=2, pue=1.135)
    gib_hours = m.excess_memory_gib_hours(8, host_memory_gib=384, chips=1, memory_gib_per_chip=81.32, hours=1)
    memory = m.memory_kwh(gib_hours, 0.000392, 1.135)

    assert compute == pytest.approx(0.00557285, rel=1e-9)
    assert memory == pytest.approx(0.00280559, rel=1e-6)


def test_memory_below_the_per_chip_baseline_costs_nothing():
    # Given a host whose memory per chip (32 GiB) is under the Cascade Lake baseline of 98.12 GB
    assert m.excess_memory_gib_hours(8, host_memory_gib=32, chips=1, memory_gib_per_chip=98.12, hours=1) == 0


def test_memory_excess_is_shared_over_chips():
    # z1d host: 2 chips, 384 GiB, Cascade Lake baseline 98.12 GB per chip; z1d.xlarge holds 16 of the 384 GiB
    got = m.excess_memory_gib_hours(16, host_memory_gib=384, chips=2, memory_gib_per_chip=98.12, hours=1)
    assert got == pytest.approx((384 / 2 - 98.12) / (384 / 16), rel=REL)


def test_density_memory_rule_agrees_with_the_host_rule_for_a_one_chip_family():
    # For m5 (96 vCPUs on one chip) the unknown-host rule must give the same answer as CCF's host rule.
    host_rule = m.excess_memory_gib_hours(8, 384, 1, 81.32, hours=3)
    density_rule = m.excess_memory_gib_hours_by_density(8 * 3, 2 * 3, vcpus_per_chip=96, memory_gib_per_chip=81.32)
    assert density_rule == pytest.approx(host_rule, rel=REL)


def test_density_memory_rule_never_goes_negative():
    assert m.excess_memory_gib_hours_by_density(1, 96, 96, 80.69) == 0


def test_storage_ssd_one_tb_hour_with_ebs_replication():
    # 1 TB-hour x 1.2 Wh x 2 copies = 2.4 Wh = 0.0024 kWh, x PUE 1.135
    assert m.storage_kwh(1000, 1, 1.2, 2, 1.135) == pytest.approx(0.0024 * 1.135, rel=REL)


def test_storage_takes_decimal_gigabytes_not_byte_hours():
    # CCF issue 1029: S3 ByteHrs were read as bytes, making S3 energy ~0. 500 GB held for 2 h is 1 TB-hour.
    assert m.storage_kwh(500, 2, 0.65, 3, 1.0) == pytest.approx(0.65 * 3 / 1000, rel=REL)


def test_network_is_one_watt_hour_per_gigabyte():
    assert m.network_kwh(5e9, 0.001, 1.135) == pytest.approx(0.005 * 1.135, rel=REL)


def test_lambda_vcpu_hours_treat_1792_mb_as_one_vcpu():
    # Source: CCF methodology, "A note on AWS Lambda Compute Estimates": 1,792 MB = 1 vCPU.
    assert m.lambda_vcpu_hours(duration_ms=3_600_000, memory_mb=1792, mb_per_vcpu=1792) == pytest.approx(1.0)
    assert m.lambda_vcpu_hours(duration_ms=1_800_000, memory_mb=896, mb_per_vcpu=1792) == pytest.approx(0.25)


def test_embodied_uses_hours_not_hours_per_vcpu():
    # Source: README of the project's reference data / CCF methodology "Embodied Emissions":
    # kgCO2e = host t x 1000 x hours / 35,040 x vCPUs / largest vCPUs. CCF's code divides hours by vCPUs.
    got = m.embodied_kgco2e(1.6103792, hours=1, server_life_hours=35040, vcpus=2, host_vcpus=96)
    assert got == pytest.approx(1.6103792 * 1000 / 35040 * 2 / 96, rel=REL)
    ccf_defect = 1.6103792 * 1000 * (1 / 2) / 35040 * 2 / 96
    assert got == pytest.approx(2 * ccf_defect, rel=REL)


def test_embodied_share_is_capped_at_the_whole_host():
    assert m.embodied_kgco2e(1.0, 35040, 35040, vcpus=200, host_vcpus=96) == pytest.approx(1000.0)


def test_burstable_vcpus_scale_by_baseline_over_fifty():
    assert m.burstable_vcpus(2, baseline_pct=20, reference_pct=50) == pytest.approx(0.8)


@pytest.mark.parametrize(("value", "expected"), [(-3, 0), (42.5, 42.5), (130, 100)])
def test_utilisation_is_clamped_to_a_percentage(value, expected):
    assert m.clamp_pct(value) == expected
