"""Redshift collection on the embedded AWS: clusters and their nodes' CPU and storage, Serverless workgroups' RPUs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.emissions import estimate
from carbonmeter.services import redshift

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
END = HOUR + timedelta(hours=1)


def create_cluster(region: str, name: str, node_type: str, nodes: int = 1, *, paused: bool = False) -> None:
    client = boto3.client("redshift", region_name=region)
    shape = {"ClusterType": "single-node"} if nodes == 1 else {"ClusterType": "multi-node", "NumberOfNodes": nodes}
    client.create_cluster(
        ClusterIdentifier=name, NodeType=node_type, MasterUsername="admin", MasterUserPassword="Not-a-secret-1", **shape
    )
    if paused:
        client.pause_cluster(ClusterIdentifier=name)


def create_workgroup(region: str, name: str, namespace: str, base_rpu: int = 8) -> None:
    client = boto3.client("redshift-serverless", region_name=region)
    client.create_namespace(namespaceName=namespace)
    client.create_workgroup(workgroupName=name, namespaceName=namespace, baseCapacity=base_rpu)


def put(region: str, namespace: str, metric: str, dimensions: dict[str, str], values: tuple[tuple[int, float], ...]):
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in values
        ],
    )


def node_cpu(region: str, cluster: str, node: str, *values: tuple[int, float]) -> None:
    put(region, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": cluster, "NodeID": node}, values)


def test_discovers_clusters_with_their_nodes_and_storage_and_workgroups(clients: ClientFactory, region: str):
    create_cluster(region, "reports", "ra3.4xlarge", nodes=2)
    create_cluster(region, "adhoc", "dc2.large")
    create_workgroup(region, "analysts", "sales")

    resources = {resource.resource_id: resource for resource in redshift.SLICE.discover(clients, region)}

    assert {name: (r.resource_type, dict(r.attributes)) for name, r in resources.items()} == {
        "reports": (
            "ra3.4xlarge",
            {
                "node_count": 2,
                "node_ids": ("Leader", "Compute-0", "Compute-1"),
                "status": "available",
                "managed_storage": True,
                # moto reports no TotalStorageCapacityInMegaBytes: the quota of the node type, 128 TB a node
                "managed_capacity_gb": 256_000.0,
                "local_storage_gb": None,
            },
        ),
        "adhoc": (
            "dc2.large",
            {
                "node_count": 1,
                "node_ids": ("Shared",),
                "status": "available",
                "managed_storage": False,
                "managed_capacity_gb": 0.0,
                "local_storage_gb": 160.0,
            },
        ),
        "analysts": ("serverless", {"namespace": "sales", "status": "AVAILABLE", "base_capacity_rpu": 8}),
    }


def test_asks_for_each_nodes_cpu_the_managed_storage_and_the_workgroups_rpus(clients: ClientFactory):
    create_cluster("eu-west-1", "reports", "ra3.xlplus", nodes=2)
    create_cluster("eu-west-1", "asleep", "ra3.xlplus", nodes=2, paused=True)
    create_cluster("eu-west-1", "adhoc", "dc2.large")
    create_workgroup("eu-west-1", "analysts", "sales")
    resources = {resource.resource_id: resource for resource in redshift.SLICE.discover(clients, "eu-west-1")}

    def requests(name: str) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
        asked = redshift.SLICE.metric_requests(resources[name], HOUR)
        assert all((r.stat, r.period, r.start, r.end) == ("Average", 3600, HOUR, END) for r in asked)
        return {(r.namespace, r.metric_name, r.dimensions) for r in asked}

    cluster = (("ClusterIdentifier", "reports"),)
    assert requests("reports") == {
        *(
            ("AWS/Redshift", "CPUUtilization", (*cluster, ("NodeID", node)))
            for node in ("Leader", "Compute-0", "Compute-1")
        ),
        ("AWS/Redshift", "PercentageDiskSpaceUsed", cluster),
    }
    # A paused cluster has no CPU to read; its managed storage is still there
    assert requests("asleep") == {("AWS/Redshift", "PercentageDiskSpaceUsed", (("ClusterIdentifier", "asleep"),))}
    # Local disks count as provisioned: no storage metric
    assert requests("adhoc") == {
        ("AWS/Redshift", "CPUUtilization", (("ClusterIdentifier", "adhoc"), ("NodeID", "Shared")))
    }
    assert requests("analysts") == {
        ("AWS/Redshift-Serverless", "ComputeCapacity", (("Workgroup", "analysts"),)),
        ("AWS/Redshift-Serverless", "DataStorage", (("Namespace", "sales"),)),
    }


def test_turns_metrics_into_one_record_per_cluster_and_workgroup(collect):
    create_cluster("eu-west-1", "reports", "ra3.4xlarge", nodes=2)
    create_cluster("eu-west-1", "asleep", "dc2.large", nodes=3, paused=True)
    create_workgroup("eu-west-1", "analysts", "sales")
    node_cpu("eu-west-1", "reports", "Leader", (0, 5.0), (30, 15.0), (60, 99.0))  # 11:00 is the next hour's
    node_cpu("eu-west-1", "reports", "Compute-0", (10, 40.0))
    # Compute-1 published nothing: it is left out of the mean, not counted as idle
    put("eu-west-1", "AWS/Redshift", "PercentageDiskSpaceUsed", {"ClusterIdentifier": "reports"}, ((0, 0.5), (30, 1.5)))
    put("eu-west-1", "AWS/Redshift-Serverless", "ComputeCapacity", {"Workgroup": "analysts"}, ((0, 8.0), (1, 16.0)))
    put("eu-west-1", "AWS/Redshift-Serverless", "DataStorage", {"Namespace": "sales"}, ((0, 250_000.0),))

    records = {record.resource_id: record for record in collect(redshift.SLICE, "eu-west-1", HOUR)}

    reports, asleep, analysts = records["reports"].details, records["asleep"].details, records["analysts"].details
    assert (records["reports"].service, records["reports"].resource_type) == ("redshift", "ra3.4xlarge")
    assert (reports.node_count, reports.cpu_utilization_pct, reports.paused) == (2, 25.0, False)  # mean of 10, 40
    assert reports.storage_gb == pytest.approx(0.01 * 256_000)  # 1 % of two 128 TB quotas
    assert (asleep.paused, asleep.cpu_utilization_pct, asleep.storage_gb) == (True, None, 3 * 160.0)
    assert (records["analysts"].resource_type, analysts.capacity_rpu, analysts.storage_gb) == (
        "serverless",
        12.0,
        250.0,
    )


def test_collected_warehouses_are_estimated_from_a_fresh_collection(collect, counter: ApiCallCounter):
    create_cluster("eu-west-1", "pair", "dc2.large", nodes=2)
    create_cluster("eu-west-1", "one", "dc2.large")
    for cluster, nodes in (("pair", ("Leader", "Compute-0", "Compute-1")), ("one", ("Shared",))):
        for node in nodes:
            node_cpu("eu-west-1", cluster, node, (0, 50.0))
    create_workgroup("eu-west-1", "analysts", "sales")
    put("eu-west-1", "AWS/Redshift-Serverless", "ComputeCapacity", {"Workgroup": "analysts"}, ((0, 8.0),))

    records = {record.resource_id: record for record in collect(redshift.SLICE, "eu-west-1", HOUR)}
    pair, one, analysts = (estimate(records[name]) for name in ("pair", "one", "analysts"))

    # Two compute nodes and their leader are three dc2.large; their disks are two nodes'
    assert pair.compute_kwh == pytest.approx(3 * one.compute_kwh)
    assert one.compute_kwh > 0
    assert pair.embodied_kgco2e == pytest.approx(3 * one.embodied_kgco2e)
    assert pair.storage_kwh == pytest.approx(2 * one.storage_kwh)
    assert one.storage_kwh > 0
    assert analysts.compute_kwh > 0
    assert "redshift_serverless_rpu_mapping" in analysts.flags
    # No DataStorage for the namespace this hour: flagged, not guessed
    assert "redshift_managed_storage_unmeasured" in analysts.flags
    # One DescribeClusters and one ListWorkgroups for the region, whatever the number of warehouses
    assert counter.calls["redshift:DescribeClusters"] == 1
    assert counter.calls["redshift-serverless:ListWorkgroups"] == 1
    # and 3 + 1 node metrics, plus the workgroup's capacity and storage
    assert counter.metrics_requested == 6


def test_workgroups_are_listed_across_pages(clients: ClientFactory, counter: ApiCallCounter):
    for index in range(120):
        create_workgroup("us-east-1", f"team-{index:03d}", f"space-{index:03d}")

    resources = redshift.SLICE.discover(clients, "us-east-1")

    assert sorted(r.resource_id for r in resources) == [f"team-{index:03d}" for index in range(120)]
    # ListWorkgroups answers at most 100 a page
    assert counter.calls["redshift-serverless:ListWorkgroups"] == 2


def test_a_region_without_redshift_serverless_is_not_asked(clients: ClientFactory, counter: ApiCallCounter):
    # me-south-1 has Redshift but no Redshift Serverless endpoint
    create_cluster("me-south-1", "reports", "dc2.large")

    assert [r.resource_id for r in redshift.SLICE.discover(clients, "me-south-1")] == ["reports"]
    assert "redshift-serverless:ListWorkgroups" not in counter.calls


def test_a_cluster_and_a_workgroup_of_the_same_name_are_two_records(collect):
    # Clusters and workgroups are named in separate namespaces: one name can be both in a region.
    create_cluster("eu-west-1", "analytics", "dc2.large")
    create_workgroup("eu-west-1", "analytics", "sales")
    node_cpu("eu-west-1", "analytics", "Shared", (0, 50.0))
    put("eu-west-1", "AWS/Redshift-Serverless", "ComputeCapacity", {"Workgroup": "analytics"}, ((0, 8.0),))

    records = collect(redshift.SLICE, "eu-west-1", HOUR)

    by_type = {record.resource_type: record for record in records if record.resource_id == "analytics"}
    assert set(by_type) == {"dc2.large", "serverless"}
    assert by_type["dc2.large"].details.cpu_utilization_pct == 50.0
    assert by_type["serverless"].details.capacity_rpu == 8.0
