"""ElastiCache's estimate, worked by hand: a node type ``cache.X`` is the EC2 type ``X``, once per node.

Coefficients (``emissions/data/``): m5 is Skylake 0.65 / 4.26 W per vCPU, host 96 vCPUs, 384 GiB, 1.6103792 t;
r6g is Graviton2 0.47 / 1.69 W, 129.78 GB per chip, host 64 vCPUs, 512 GiB, 1.6879024 t; t3 is Cascade Lake
0.64 / 3.97 W with a 20 % baseline for t3.medium, its embodied host m5's.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.models import Service
from carbonmeter.services.elasticache import ElastiCacheUsage, ec2_type, node_ids, node_vcpus
from tests.support.estimates import MEMORY_KWH, PUE, REL, kwh, usage

M5_LARGE_COMPUTE_KWH = 0.00557285  # CCF's m5.large at 50 %: kwh(0.65 + 0.5 x 3.61, 2)
M5_LARGE_MEMORY_KWH = 0.0028055913666667
M5_LARGE_EMBODIED_KG = 1.6103792 * 1000 / 35040 * 2 / 96


def cache_usage(node_type: str, **fields: object):
    return usage(Service.ELASTICACHE, node_type, **fields)


def test_a_cluster_of_three_m5_large_nodes_is_three_m5_large_instances():
    record = estimate(cache_usage("cache.m5.large", node_count=3, cpu_utilization_pct=50, engine="memcached"))

    assert record.compute_kwh == pytest.approx(3 * M5_LARGE_COMPUTE_KWH, rel=REL)
    assert record.memory_kwh == pytest.approx(3 * M5_LARGE_MEMORY_KWH, rel=1e-6)
    assert record.embodied_kgco2e == pytest.approx(3 * M5_LARGE_EMBODIED_KG, rel=REL)
    assert record.storage_kwh == record.network_kwh == 0
    assert record.flags == ()


def test_a_graviton_node_uses_its_ec2_twins_coefficients_and_host():
    # r6g.large at 20 %: 0.47 + 0.2 x 1.22 = 0.714 W per vCPU; memory above the Graviton2 baseline of one chip:
    # (512 - 129.78) / (512 / 16) = 11.944375 GB-hours; embodied 2 of the host's 64 vCPUs
    record = estimate(cache_usage("cache.r6g.large", cpu_utilization_pct=20, engine="redis"))

    assert record.compute_kwh == pytest.approx(kwh(0.714, 2), rel=REL)
    assert record.memory_kwh == pytest.approx(11.944375 * MEMORY_KWH * PUE, rel=REL)
    assert record.embodied_kgco2e == pytest.approx(1.6879024 * 1000 / 35040 * 2 / 64, rel=REL)
    assert record.flags == ()


def test_an_unmeasured_burstable_node_takes_ccfs_baseline_rule():
    # t3.medium: 2 vCPUs x 20 / 50 = 0.8 active vCPUs at 50 %, per node; embodied on the m5 host, 2 of 96 vCPUs
    record = estimate(cache_usage("cache.t3.medium", node_count=2, burstable=True, engine="memcached"))

    assert record.compute_kwh == pytest.approx(2 * kwh(0.64 + 0.5 * 3.33, 0.8), rel=REL)
    assert record.embodied_kgco2e == pytest.approx(2 * 1.6103792 * 1000 / 35040 * 2 / 96, rel=REL)
    assert set(record.flags) == {"utilisation_default_50pct", "burstable_baseline_scaling"}


def test_vcpus_come_from_the_elasticache_table_first():
    # m4.10xlarge is Haswell;Broadwell: idle 1.0 and 0.71 W -> mean 0.855 W; 40 vCPUs per the ElastiCache table,
    # whatever the record says
    record = estimate(cache_usage("cache.m4.10xlarge", vcpus=8, cpu_utilization_pct=0, engine="redis"))
    assert record.compute_kwh == pytest.approx(kwh((1.0 + 0.71) / 2, 40), rel=REL)


def test_a_node_type_newer_than_the_data_falls_back_as_its_ec2_twin_does():
    # cache.r7g is in neither table: the record's size (DescribeInstanceTypes of r7g.large), Graviton3 -> 2
    fields = {"vcpus": 2, "memory_gib": 16, "cpu_utilization_pct": 50}
    cache = estimate(cache_usage("cache.r7g.large", engine="valkey", **fields))
    ec2 = estimate(usage(Service.EC2, "r7g.large", **fields))

    assert cache.compute_kwh == pytest.approx(kwh(0.47 + 0.5 * 1.22, 2), rel=REL)
    assert (cache.memory_kwh, cache.embodied_kgco2e) == pytest.approx((ec2.memory_kwh, ec2.embodied_kgco2e), rel=REL)
    assert cache.flags == ec2.flags
    assert "instance_type_not_in_data" in cache.flags


def test_a_node_type_unknown_everywhere_is_flagged_not_guessed():
    record = estimate(cache_usage("cache.zz9.large", cpu_utilization_pct=30, engine="redis"))

    assert record.compute_kwh == record.memory_kwh == record.embodied_kgco2e == 0
    assert {"capacity_unknown", "instance_type_not_in_data"} <= set(record.flags)


def test_the_node_vcpu_table_holds_only_cache_types_of_known_ec2_twins():
    table = node_vcpus()
    assert len(table) == 45
    assert table["cache.r6g.large"] == 2
    assert all(ec2_type(name) for name in table)


def test_node_ids_come_from_the_answer_else_are_numbered_as_elasticache_does():
    listed = {"NumCacheNodes": 2, "CacheNodes": [{"CacheNodeId": "0001"}, {"CacheNodeId": "0003"}]}
    assert node_ids(listed) == ("0001", "0003")
    assert node_ids({"NumCacheNodes": 3}) == ("0001", "0002", "0003")


def test_details_default_to_one_node():
    assert ElastiCacheUsage().node_count == 1
