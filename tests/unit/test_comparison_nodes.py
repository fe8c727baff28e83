"""The node-type comparison (docs/comparison.md, "Redshift and ElastiCache nodes") reproduces CCF's rules."""

from __future__ import annotations

import pytest

from carbonmeter.models import Service
from devtools.comparison.nodes import CASES, NodeCase, compare_nodes, render_nodes
from tests.support.estimates import kwh

AVERAGES_50 = 0.74 + 0.5 * (3.5 - 0.74)  # W per vCPU: CCF's AWS averages at its default load


def test_a_single_node_warehouse_is_the_same_figure_for_both():
    # One dc2.large: no leader to count, both read dc2.large's row of CCF's EC2 table
    (row,) = compare_nodes([NodeCase(Service.REDSHIFT, "dc2.large", 1)])
    assert row.builtin.energy_kwh == pytest.approx(row.ccf.energy_kwh)
    assert row.builtin.embodied_kgco2e == pytest.approx(row.ccf.embodied_kgco2e)


@pytest.mark.parametrize(("node_type", "nodes"), [("dc2.8xlarge", 2), ("ds2.8xlarge", 4), ("ra3.16xlarge", 4)])
def test_a_multi_node_warehouse_differs_by_its_leader_node_only(node_type: str, nodes: int):
    (row,) = compare_nodes([NodeCase(Service.REDSHIFT, node_type, nodes)])
    assert row.builtin.energy_kwh / row.ccf.energy_kwh == pytest.approx((nodes + 1) / nodes)
    assert row.builtin.embodied_kgco2e / row.ccf.embodied_kgco2e == pytest.approx((nodes + 1) / nodes)


def test_ccf_counts_an_elasticache_node_at_the_aws_averages_alone():
    # cache.r5.4xlarge: 16 vCPUs, and CCF's memory and embodied look-ups find no family "cache"
    (row,) = compare_nodes([NodeCase(Service.ELASTICACHE, "cache.r5.4xlarge", 1)])
    assert row.ccf.energy_kwh == pytest.approx(kwh(AVERAGES_50, 16))
    assert row.ccf.embodied_kgco2e == 0
    assert row.builtin.energy_kwh > 2 * row.ccf.energy_kwh


def test_the_table_has_a_row_per_case_and_marks_ratios_outside_half_to_double():
    table = render_nodes(compare_nodes())
    assert table.count("\n| redshift |") + table.count("\n| elasticache |") == len(CASES)
    assert "| **2.43** |" in table
