"""The Cloud Carbon Footprint reference of ``make comparison``: CCF's formula, CCF's tables, CCF's own values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import pytest

from carbonmeter.emissions import estimate, load_coefficients
from carbonmeter.emissions.coefficients import rows
from devtools.comparison.ccf import (
    CCF_BURSTABLE,
    CCF_CPU_AVERAGES,
    CCF_NOT_IN_TABLE,
    CcfConstants,
    CcfInputs,
    ccf_figures,
    ccf_formula,
    ccf_inputs,
    ccf_reference,
    ccf_uncorrected,
)
from devtools.comparison.document import BEGIN_MARKER, END_MARKER, ComparisonError, replace_generated
from tests.support.records import ec2_usage

REL = 1e-9


usage = partial(
    ec2_usage,
    connection_id="comparison",
    account_id="123456789012",
    hour=datetime(2025, 1, 1, tzinfo=UTC),
    cpu_utilization_pct=50.0,
)


def test_ccf_formula_reproduces_ccf_compute_estimator_figure() -> None:
    # Source: CCF packages/core/src/compute/__tests__/ComputeEstimator.test.ts ("do estimates for AWS US East 1
    # region", cloud-carbon-footprint/cloud-carbon-footprint): 1 % utilisation, 1 vCPU-hour, min 0.71 W,
    # max 3.46 W, PUE 1.135, replication factor 2, 0.000415755 t/kWh
    # -> kilowattHours 0.0016741249999999998, co2e 6.960258393749999e-7 t.
    inputs = CcfInputs(
        hours=1, vcpus=1, min_watts=0.71, max_watts=3.46, memory_gib_hours=0, grid_tco2e_per_kwh=0.000415755
    )
    constants = CcfConstants(pue=1.135, memory_kwh_per_gib_hour=0.000392, server_life_hours=35040, replication_factor=2)

    got = ccf_formula(inputs, utilisation_pct=1.0, constants=constants)

    assert got.energy_kwh == pytest.approx(0.0016741249999999998, rel=REL)
    assert got.operational_kgco2e == pytest.approx(6.960258393749999e-7 * 1000, rel=REL)
    assert got.embodied_kgco2e == 0


def test_ccf_formula_reproduces_ccf_memory_estimator_figure() -> None:
    # Source: CCF packages/core/src/memory/__tests__/MemoryEstimator.test.ts ("does estimates for AWS US East 1
    # region"): 80 GB-hours, 0.000392 kWh/GB-hour, PUE 1.135, 0.000415755 t/kWh
    # -> kilowattHours 0.035593599999999996, co2e 0.000014798217168 t.
    inputs = CcfInputs(hours=1, vcpus=0, min_watts=0, max_watts=0, memory_gib_hours=80, grid_tco2e_per_kwh=0.000415755)

    got = ccf_formula(inputs, 50, CcfConstants(pue=1.135, memory_kwh_per_gib_hour=0.000392, server_life_hours=35040))

    assert got.energy_kwh == pytest.approx(0.035593599999999996, rel=REL)
    assert got.operational_kgco2e == pytest.approx(0.000014798217168 * 1000, rel=REL)


def test_ccf_formula_reproduces_ccf_embodied_estimator_figure() -> None:
    # Source: CCF packages/core/src/embodiedEmissions/__tests__/EmbodiedEmissionsEstimator.test.ts: 24 hours,
    # 1 of 96 vCPUs, 1.7957 t per server, 35,040 h life -> co2e 0.000012811786529680366 t.
    inputs = CcfInputs(
        hours=24,
        vcpus=0,
        min_watts=0,
        max_watts=0,
        memory_gib_hours=0,
        host_embodied_tco2e=1.7957,
        instance_vcpus=1,
        host_vcpus=96,
    )

    got = ccf_formula(inputs, 50, CcfConstants(pue=1.135, memory_kwh_per_gib_hour=0.000392, server_life_hours=35040))

    assert got.embodied_kgco2e == pytest.approx(0.000012811786529680366 * 1000, rel=REL)
    # Embodied stays out of the energy (CCF's code adds it back as kWh; the methodology does not).
    assert got.energy_kwh == 0


def test_gpus_follow_the_same_formula_per_gpu_hour() -> None:
    # One T4 (8 / 71 W in CCF's coefficients) at 50 %: 39.5 W for an hour, x PUE.
    inputs = CcfInputs(
        hours=1, vcpus=0, min_watts=0, max_watts=0, memory_gib_hours=0, gpus=1, gpu_min_watts=8, gpu_max_watts=71
    )

    got = ccf_formula(inputs, 50, CcfConstants(pue=1.135, memory_kwh_per_gib_hour=0.000392, server_life_hours=35040))

    assert got.energy_kwh == pytest.approx(39.5 / 1000 * 1.135, rel=REL)


def test_gpus_stay_at_fifty_percent_whatever_the_cpu_load() -> None:
    # CCF's code (packages/aws/src/lib/AWSComputeEstimatesBuilder.ts) runs GPU-hours at AVG_CPU_UTILIZATION_2020:
    # g4dn.xlarge's T4 (8 / 71 W) draws 39.5 W at 10 % and at 90 % CPU; only its vCPUs move with the load.
    c, reference, constants = load_coefficients(), ccf_reference(), CcfConstants.of(load_coefficients())
    for load in (10.0, 90.0):
        inputs = ccf_inputs(usage(resource_type="g4dn.xlarge", vcpus=4, memory_gib=16), c, reference)
        without_gpu = replace(inputs, gpus=0.0)

        gpu_kwh = ccf_formula(inputs, load, constants).energy_kwh - ccf_formula(without_gpu, load, constants).energy_kwh

        assert (inputs.gpus, inputs.gpu_min_watts, inputs.gpu_max_watts) == (1.0, 8.0, 71.0)
        assert gpu_kwh == pytest.approx(39.5 / 1000 * 1.135, rel=REL)


def test_m5_large_from_ccf_tables_matches_the_methodology_worked_example() -> None:
    # docs/methodology.md, worked example: m5.large, one hour at 50 % in us-east-1 -> 0.00837844 kWh,
    # 0.00317601 kg operational, 0.00095746 kg embodied (CCF's method; m5 has no CarbonMeter correction).
    got = ccf_figures(usage())

    assert got.energy_kwh == pytest.approx(0.00837844, rel=1e-6)
    assert got.operational_kgco2e == pytest.approx(0.00317601, rel=1e-5)
    assert got.embodied_kgco2e == pytest.approx(0.00095746, rel=1e-5)
    assert got.notes == ()


def test_types_with_the_same_data_give_builtin_figures() -> None:
    # Where CarbonMeter changed nothing (Skylake m5, measured load, CCF region), both methods agree exactly.
    record = usage(resource_type="r5.4xlarge", vcpus=16, memory_gib=128, cpu_utilization_pct=10.0, region="eu-north-1")
    builtin = estimate(record)
    ccf = ccf_figures(record)

    assert ccf.energy_kwh == pytest.approx(builtin.energy_kwh, rel=REL)
    assert ccf.operational_kgco2e == pytest.approx(builtin.operational_kgco2e, rel=REL)
    assert ccf.embodied_kgco2e == pytest.approx(builtin.embodied_kgco2e, rel=REL)


def test_type_missing_from_ccf_table_gets_averages_and_nothing_else() -> None:
    # m7i is newer than CCF's table: its vCPUs at 0.74 / 3.5 W, no memory, no embodied.
    got = ccf_figures(usage(resource_type="m7i.large", cpu_utilization_pct=10.0))

    assert got.energy_kwh == pytest.approx(2 * (0.74 + 0.1 * (3.5 - 0.74)) / 1000 * 1.135, rel=REL)
    assert got.embodied_kgco2e == 0
    assert got.notes == (CCF_NOT_IN_TABLE,)


def test_burstable_vcpus_are_scaled_by_baseline_even_with_a_measured_load() -> None:
    # t3.medium: baseline 20 % per vCPU -> CCF counts 2 x 20 / 50 = 0.8 vCPUs, and no memory.
    c = load_coefficients()
    spec = c.instance_type("t3.medium")
    assert spec is not None
    watts = c.cpu_watts(spec.microarchitectures)

    got = ccf_figures(usage(resource_type="t3.medium", memory_gib=4, cpu_utilization_pct=10.0))

    expected = 0.8 * (watts.min_watts + 0.1 * (watts.max_watts - watts.min_watts)) / 1000 * 1.135
    assert got.energy_kwh == pytest.approx(expected, rel=REL)
    assert got.notes == (CCF_BURSTABLE,)


def test_ccf_uses_its_uncorrected_embodied_figure_for_u_6tb1() -> None:
    # CCF gives the virtualised u-6tb1 sizes 1.1 t; CarbonMeter corrected them to the metal host's 35.762264 t.
    got = ccf_figures(usage(resource_type="u-6tb1.56xlarge", vcpus=224, memory_gib=6144))

    assert got.embodied_kgco2e == pytest.approx(1.1 * 1000 / 35040 * 224 / 448, rel=REL)
    assert ccf_uncorrected("host_embodied_tco2e") in got.notes


def test_ccf_uses_its_aws_averages_where_carbonmeter_filled_in_the_processor() -> None:
    # CCF marks m6i "Unknown"; CarbonMeter's Ice Lake has no coefficients either, so CCF's averages apply.
    got = ccf_figures(usage(resource_type="m6i.large", cpu_utilization_pct=0.0))

    assert CCF_CPU_AVERAGES in got.notes
    assert ccf_uncorrected("microarchitectures") in got.notes
    # Idle: 2 vCPUs x 0.74 W; memory: m6i host 128 vCPUs (2 chips), 512 GiB, CCF's 80.69 GB per chip, 8 of 512 GiB.
    compute = 2 * 0.74 / 1000 * 1.135
    memory = (512 / 2 - 80.69) * 8 / 512 * 0.000392 * 1.135
    assert got.energy_kwh == pytest.approx(compute + memory, rel=REL)


def test_region_ccf_has_no_factor_for_uses_its_unknown_region_average() -> None:
    got = ccf_figures(usage(region="eu-south-2"))

    assert got.grid_kgco2e_per_kwh == pytest.approx(0.39278188, rel=REL)


def test_ccf_reference_still_matches_carbonmeter_data() -> None:
    # Every row of ccf-reference.csv names CarbonMeter's current value: a change to the data files must be seen here.
    types = {row["instance_type"]: row for row in rows("ec2-instance-types.csv")}
    grid = {row["region"]: row for row in rows("grid-emission-factors.csv")}
    for row in rows("ccf-reference.csv"):
        source = grid if row["field"] == "tco2e_per_kwh" else types
        assert source[row["key"]][row["field"]] == row["carbonmeter_value"], row


def test_every_region_ccf_lacks_has_a_reference_row() -> None:
    # Grid rows not taken from CCF (Ember, Electricity Maps) must say what CCF would use instead.
    reference = ccf_reference().values
    for row in rows("grid-emission-factors.csv"):
        if row["region"] != "unknown" and not row["source"].startswith("CCF "):
            assert (row["region"], "tco2e_per_kwh") in reference, row["region"]


def test_replace_generated_keeps_the_text_around_the_markers() -> None:
    document = f"# Title\n\nbefore\n\n{BEGIN_MARKER}\nold table\n{END_MARKER}\n\nafter\n"

    got = replace_generated(document, "new table\n")

    assert got == f"# Title\n\nbefore\n\n{BEGIN_MARKER}\n\nnew table\n\n{END_MARKER}\n\nafter\n"


def test_replace_generated_refuses_a_document_without_markers() -> None:
    with pytest.raises(ComparisonError, match="no"):
        replace_generated("# Title\n", "table")
