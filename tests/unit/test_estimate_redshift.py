"""Redshift's estimate, worked by hand: nodes as their EC2 equivalents (plus the leader), storage local or managed.

Coefficients (``emissions/data/``, the EC2 table being CCF's, which lists dc2, ds2 and ra3): no microarchitecture
is known for them, so 0.74 / 3.5 W per vCPU and 80.69 GB per chip; dc2's host is 32 vCPUs, 244 GiB, 1.8162132 t;
ra3's 48 vCPUs, 384 GiB, 2.1103792 t. SSD 1.2 and HDD 0.65 Wh per TB-hour; PUE 1.135.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.emissions.coefficients import load_coefficients
from carbonmeter.models import Service
from carbonmeter.services.base import GB_PER_GIB
from carbonmeter.services.redshift import RedshiftUsage, node_ids, node_types
from tests.support.estimates import MEMORY_KWH, PUE, REL, kwh, usage

LIFE_HOURS = 35040
RPU_GIB = 16 / GB_PER_GIB


def warehouse(node_type: str, **fields: object):
    return usage(Service.REDSHIFT, node_type, **fields)


def ssd_kwh(gb: float, replication: float = 1) -> float:
    return gb / 1000 * 1.2 / 1000 * replication * PUE


def hdd_kwh(gb: float, replication: float = 1) -> float:
    return gb / 1000 * 0.65 / 1000 * replication * PUE


def test_a_single_node_dc2_cluster_is_one_dc2_large_of_the_ec2_table_with_its_local_ssd():
    # Given dc2.large (2 vCPUs, 15 GiB, 160 GB NVMe SSD) at 40 %: one node, no leader (NodeID Shared)
    record = estimate(warehouse("dc2.large", node_count=1, cpu_utilization_pct=40, storage_gb=160))

    # Then compute is the AWS averages, 0.74 + 0.4 x 2.76 W per vCPU
    assert record.compute_kwh == pytest.approx(kwh(0.74 + 0.4 * 2.76, 2), rel=REL)
    # memory: the dc2 host's excess over one chip's baseline, (244 - 80.69) GB, shared by 15 of 244 GiB
    assert record.memory_kwh == pytest.approx((244 - 80.69) * 15 / 244 * MEMORY_KWH * PUE, rel=REL)
    assert record.embodied_kgco2e == pytest.approx(1.8162132 * 1000 / LIFE_HOURS * 2 / 32, rel=REL)
    assert record.storage_kwh == pytest.approx(ssd_kwh(160), rel=REL)
    assert record.flags == ("microarchitecture_unknown",)


def test_a_multi_node_cluster_counts_its_leader_as_one_more_node():
    # Given two ra3.4xlarge compute nodes at 50 % and 1,000 GB stored in managed storage
    record = estimate(warehouse("ra3.4xlarge", node_count=2, cpu_utilization_pct=50, storage_gb=1000))
    one = estimate(warehouse("ra3.4xlarge", node_count=1, cpu_utilization_pct=50))

    # Then three machines draw power: two compute nodes and the leader (0.74 + 0.5 x 2.76 W per vCPU, 12 vCPUs)
    assert record.compute_kwh == pytest.approx(3 * kwh(0.74 + 0.5 * 2.76, 12), rel=REL)
    assert record.embodied_kgco2e == pytest.approx(3 * 2.1103792 * 1000 / LIFE_HOURS * 12 / 48, rel=REL)
    assert record.memory_kwh == pytest.approx(3 * one.memory_kwh, rel=REL)
    # managed storage: what is stored, kept on S3 as S3 Standard is (HDD, three copies)
    assert record.storage_kwh == pytest.approx(hdd_kwh(1000, 3), rel=REL)
    assert set(record.flags) == {"redshift_leader_node_as_compute_node", "microarchitecture_unknown"}
    assert "redshift_leader_node_as_compute_node" not in one.flags


def test_a_paused_cluster_has_no_compute_but_keeps_its_storage():
    # Given a paused ds2.xlarge cluster of three nodes (2 TB HDD each) and a paused RA3 one with 500 GB stored
    local = estimate(warehouse("ds2.xlarge", node_count=3, paused=True, storage_gb=6000))
    managed = estimate(warehouse("ra3.xlplus", node_count=2, paused=True, storage_gb=500))

    assert local.compute_kwh == local.memory_kwh == local.embodied_kgco2e == 0
    assert managed.compute_kwh == managed.memory_kwh == managed.embodied_kgco2e == 0
    # Then the local disks count as provisioned (an upper bound, flagged), the managed GB as stored
    assert local.storage_kwh == pytest.approx(hdd_kwh(6000), rel=REL)
    assert local.flags == ("redshift_paused_local_storage_as_provisioned",)
    assert managed.storage_kwh == pytest.approx(hdd_kwh(500, 3), rel=REL)
    assert managed.flags == ()


def test_managed_storage_without_a_datapoint_is_flagged_not_guessed():
    record = estimate(warehouse("ra3.16xlarge", node_count=2, cpu_utilization_pct=10, storage_gb=None))

    assert record.storage_kwh == 0
    assert "redshift_managed_storage_unmeasured" in record.flags
    assert record.compute_kwh > 0


def test_an_unmeasured_cluster_takes_the_default_utilisation():
    record = estimate(warehouse("dc2.8xlarge", node_count=4, storage_gb=4 * 2560))

    # Five dc2.8xlarge machines (four and the leader) at 50 %: 0.74 + 0.5 x 2.76 W for each of their 32 vCPUs
    assert record.compute_kwh == pytest.approx(5 * kwh(0.74 + 0.5 * 2.76, 32), rel=REL)
    assert record.storage_kwh == pytest.approx(ssd_kwh(4 * 2560), rel=REL)
    assert "utilisation_default_50pct" in record.flags


def test_a_node_type_missing_from_the_ec2_table_keeps_its_size_and_takes_ec2s_fallbacks():
    # ra3.xlplus (4 vCPUs, 32 GiB) is not in the EC2 table: its Redshift size, the averages, a fallback host
    record = estimate(warehouse("ra3.xlplus", node_count=1, cpu_utilization_pct=50, storage_gb=0))

    assert record.compute_kwh == pytest.approx(kwh(0.74 + 0.5 * 2.76, 4), rel=REL)
    assert "instance_type_not_in_data" in record.flags
    assert record.embodied_kgco2e > 0


def test_a_node_type_unknown_everywhere_is_flagged_not_guessed():
    record = estimate(warehouse("zz9.large", node_count=2, cpu_utilization_pct=30, storage_gb=100))

    assert record.compute_kwh == record.memory_kwh == record.storage_kwh == record.embodied_kgco2e == 0
    assert record.flags == ("capacity_unknown",)


def test_a_serverless_workgroup_is_its_rpus_at_16_gb_and_2_vcpus_each():
    # Given 8 RPUs on average over the hour and 500 GB in its namespace
    record = estimate(warehouse("serverless", node_count=0, capacity_rpu=8, storage_gb=500))

    # Then 16 vCPUs on ra3.16xlarge at the default 50 %
    assert record.compute_kwh == pytest.approx(kwh(0.74 + 0.5 * 2.76, 16), rel=REL)
    # 8 x 16 GB = 119.2 GiB: the ra3 host's excess over one chip, (384 - 80.69) GB, shared by 119.2 of 384 GiB
    assert record.memory_kwh == pytest.approx((384 - 80.69) * 8 * RPU_GIB / 384 * MEMORY_KWH * PUE, rel=REL)
    assert record.embodied_kgco2e == pytest.approx(2.1103792 * 1000 / LIFE_HOURS * 16 / 48, rel=REL)
    assert record.storage_kwh == pytest.approx(hdd_kwh(500, 3), rel=REL)
    assert set(record.flags) == {
        "redshift_serverless_rpu_mapping",
        "utilisation_default_50pct",
        "microarchitecture_unknown",
    }


def test_an_idle_workgroup_has_only_its_storage():
    record = estimate(warehouse("serverless", node_count=0, capacity_rpu=0, storage_gb=200))

    assert record.compute_kwh == record.memory_kwh == record.embodied_kgco2e == 0
    assert record.storage_kwh == pytest.approx(hdd_kwh(200, 3), rel=REL)
    assert record.flags == ()


def test_the_node_table_agrees_with_the_ec2_tables_rows_of_the_same_types():
    table, c = node_types(), load_coefficients()
    assert {"dc2.large", "dc2.8xlarge", "ds2.xlarge", "ds2.8xlarge", "ra3.xlplus", "ra3.4xlarge"} <= set(table)
    for name, node in table.items():
        spec = c.instance_type(node.ec2_type or name)
        if spec is not None and node.ec2_type is None:
            assert (spec.vcpus, spec.memory_gib) == (node.vcpus, node.memory_gib)
    assert table["serverless.rpu"].ec2_type == "ra3.16xlarge"
    assert (table["dc2.8xlarge"].media, table["ds2.xlarge"].media) == ("ssd", "hdd")
    assert table["serverless.rpu"].memory_gib == pytest.approx(16 / GB_PER_GIB)


def test_node_ids_are_cloudwatchs():
    assert node_ids(1) == ("Shared",)
    assert node_ids(3) == ("Leader", "Compute-0", "Compute-1", "Compute-2")


def test_details_default_to_one_running_node():
    details = RedshiftUsage()
    assert (details.node_count, details.paused, details.capacity_rpu) == (1, False, None)
