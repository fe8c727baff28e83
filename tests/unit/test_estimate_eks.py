"""EKS's estimate, worked by hand: the control plane as five m5.large-equivalents, plus its Fargate pods.

m5 is Skylake 0.65 / 4.26 W per vCPU, host 96 vCPUs, 384 GiB, 1.6103792 t; Fargate pods are x86 (CCF's averages
0.74 / 3.5 W, 80.69 GB per chip) with 2 GiB per vCPU.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.models import Service
from carbonmeter.services.eks import control_plane
from tests.support.estimates import MEMORY_KWH, PUE, REL, kwh, usage

M5_LARGE_COMPUTE_KWH = 0.00557285  # m5.large at 50 %: kwh(0.65 + 0.5 x 3.61, 2)
M5_LARGE_MEMORY_KWH = 0.0028055913666667
M5_LARGE_EMBODIED_KG = 1.6103792 * 1000 / 35040 * 2 / 96


def cluster(**fields: object):
    return usage(Service.EKS, "eks-cluster", resource_id="prod", **fields)


def test_the_control_plane_is_two_api_servers_and_three_etcd_members_of_m5_large():
    assert [(m.component, m.instances, m.instance_type) for m in control_plane()] == [
        ("api_server", 2, "m5.large"),
        ("etcd", 3, "m5.large"),
    ]
    record = estimate(cluster())

    assert record.compute_kwh == pytest.approx(5 * M5_LARGE_COMPUTE_KWH, rel=REL)
    assert record.memory_kwh == pytest.approx(5 * M5_LARGE_MEMORY_KWH, rel=1e-6)
    assert record.embodied_kgco2e == pytest.approx(5 * M5_LARGE_EMBODIED_KG, rel=REL)
    # No utilisation is published: the default, bounded by idle and full load, and the assumption is flagged
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.low < record.compute_kwh + record.memory_kwh < record.energy_kwh_range.high
    assert set(record.flags) == {"eks_control_plane_assumed", "utilisation_default_50pct"}


def test_fargate_pods_add_x86_vcpu_hours_with_two_gib_each():
    # 3 vCPU-hours at 50 %: 0.74 + 0.5 x 2.76 = 2.12 W; memory 6 - 3 x 80.69 / 96 GB-hours beyond the chip share
    alone = estimate(cluster())
    record = estimate(cluster(fargate_profiles=1, fargate_vcpu_hours=3.0))

    assert record.compute_kwh - alone.compute_kwh == pytest.approx(kwh(2.12, 3), rel=1e-9)
    assert record.memory_kwh - alone.memory_kwh == pytest.approx((6 - 3 * 80.69 / 96) * MEMORY_KWH * PUE, rel=1e-9)
    assert {"eks_fargate_from_usage", "fargate_coefficients_range", "microarchitecture_unknown"} <= set(record.flags)
