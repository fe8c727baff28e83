"""ECS on Fargate, worked by hand: the methodology's vCPU model, bounded by SPRUCE/Tailpipe's flat figures.

Coefficients: Graviton2 0.47 / 1.69 W per vCPU and 129.78 GB per chip (ARM64, as for Lambda); CCF's AWS averages
0.74 / 3.5 W and 80.69 GB per chip (x86); 96 vCPUs per chip; Tailpipe (via SPRUCE) 0.0088121875 kWh per x86
vCPU-hour, 0.00191015625 per ARM vCPU-hour, 0.0000598 per GB-hour, all before PUE.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.emissions.coefficients import load_coefficients
from carbonmeter.models import Service
from tests.support.estimates import MEMORY_KWH, PUE, REL, kwh, usage

TAILPIPE_X86 = 0.0088121875
TAILPIPE_ARM = 0.00191015625
TAILPIPE_GB = 0.0000598


def fargate(**fields: object):
    return usage(Service.ECS, "fargate", resource_id="web/api", cluster="web", **fields)


def test_a_measured_arm_service_uses_graviton_and_its_bounds_reach_tailpipe():
    # 2 tasks of 0.5 vCPU / 1 GiB for 3 hours' worth: 1.5 vCPU-hours at 40 %: 0.47 + 0.4 x 1.22 = 0.958 W
    record = estimate(
        fargate(
            vcpus=0.5,
            memory_mib=1024,
            architecture="arm64",
            task_hours=3.0,
            task_count_source="container_insights",
            cpu_utilization_pct=40,
        )
    )

    assert record.compute_kwh == pytest.approx(kwh(0.958, 1.5), rel=REL)
    # Memory beyond the vCPUs' share of a Graviton2 chip: 3 - 1.5 x 129.78 / 96 = 0.9721875 GB-hours
    assert record.memory_kwh == pytest.approx(0.9721875 * MEMORY_KWH * PUE, rel=REL)
    # Tailpipe's ARM figure (1.91 W per vCPU) is above the model even at 50 % (1.08 W): it is the high bound's
    # compute, and its memory figure for all 3 GB-hours (0.18 Wh) the low bound's memory
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.high >= TAILPIPE_ARM * 1.5 * PUE
    assert record.energy_kwh_range.low <= kwh(0.47 + 0.3 * 1.22, 1.5) + TAILPIPE_GB * 3 * PUE
    assert record.storage_kwh == record.network_kwh == 0
    assert set(record.flags) == {"fargate_coefficients_range"}


def test_an_x86_workload_without_a_cpu_metric_uses_ccfs_averages_at_the_default():
    # 1 task of 2 vCPUs / 4 GiB for 2 hours: 4 vCPU-hours at 50 %: 0.74 + 0.5 x 2.76 = 2.12 W;
    # memory 8 - 4 x 80.69 / 96 = 4.6379166... GB-hours
    record = estimate(
        fargate(vcpus=2, memory_mib=4096, architecture="x86_64", task_hours=2.0, task_count_source="fargate_usage")
    )

    assert record.compute_kwh == pytest.approx(kwh(2.12, 4), rel=REL)
    assert record.memory_kwh == pytest.approx((8 - 4 * 80.69 / 96) * MEMORY_KWH * PUE, rel=REL)
    # Tailpipe's 8.8 W per x86 vCPU is above the model: it reaches into the high bound
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.high >= TAILPIPE_X86 * 4 * PUE
    assert set(record.flags) == {
        "fargate_usage_shared",
        "fargate_coefficients_range",
        "microarchitecture_unknown",
        "utilisation_default_50pct",
    }


def test_embodied_is_the_median_hosts_share_per_vcpu_hour():
    c = load_coefficients()
    record = estimate(fargate(vcpus=1, memory_mib=2048, task_hours=10.0, cpu_utilization_pct=50))

    # 10 vCPU-hours of the median host's t CO2e per vCPU over a 4-year (35,040-hour) life
    assert record.embodied_kgco2e == pytest.approx(c.median_host_embodied_tco2e_per_vcpu * 1000 * 10 / 35040, rel=REL)
    assert record.embodied_kgco2e_range is not None
    assert record.embodied_kgco2e_range.low < record.embodied_kgco2e < record.embodied_kgco2e_range.high


def test_only_ephemeral_storage_beyond_the_included_20_gib_is_charged():
    # 50 GiB: 30 GiB = 32.21225472 GB of its own for 2 task-hours, SSD at 1.2 Wh per TB-hour
    record = estimate(fargate(vcpus=1, memory_mib=2048, task_hours=2.0, ephemeral_storage_gib=50))
    assert record.storage_kwh == pytest.approx(32.21225472 * 2 / 1000 * 1.2 / 1000 * PUE, rel=REL)
    assert estimate(fargate(vcpus=1, memory_mib=2048, task_hours=2.0, ephemeral_storage_gib=20)).storage_kwh == 0


def test_a_count_seen_only_at_collection_is_flagged_and_no_tasks_cost_nothing():
    record = estimate(fargate(vcpus=1, memory_mib=2048, task_hours=0.0, task_count_source="running_count"))
    assert "running_count_at_collection" in record.flags
    assert record.compute_kwh == record.memory_kwh == record.embodied_kgco2e == 0


def test_a_task_definition_without_a_size_is_flagged_not_guessed():
    record = estimate(fargate(vcpus=None, memory_mib=None, task_hours=3.0))
    assert record.compute_kwh == 0
    assert "capacity_unknown" in record.flags
