"""ElastiCache collection on the embedded AWS: cache clusters, their nodes and the nodes' hourly CPU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import estimate
from carbonmeter.services import elasticache

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def create_cluster(region: str, name: str, engine: str, node_type: str, nodes: int = 1) -> None:
    boto3.client("elasticache", region_name=region).create_cache_cluster(
        CacheClusterId=name, Engine=engine, CacheNodeType=node_type, NumCacheNodes=nodes
    )


def put_node_cpu(region: str, cluster: str, node: str, values: tuple[tuple[int, float], ...]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/ElastiCache",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [
                    {"Name": "CacheClusterId", "Value": cluster},
                    {"Name": "CacheNodeId", "Value": node},
                ],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in values
        ],
    )


def test_discovers_cache_clusters_with_their_nodes_and_ec2_twin_size(clients: ClientFactory, region: str):
    create_cluster(region, "sessions", "redis", "cache.r6g.large")
    create_cluster(region, "pages", "memcached", "cache.t3.medium", nodes=3)

    resources = {resource.resource_id: resource for resource in elasticache.SLICE.discover(clients, region)}

    assert {name: (r.resource_type, dict(r.attributes)) for name, r in resources.items()} == {
        "sessions": (
            "cache.r6g.large",
            {
                # moto lists no CacheNodes: the ids are numbered as ElastiCache numbers them
                "node_ids": ("0001",),
                "engine": "redis",
                "status": "available",
                "replication_group": None,
                # sized by DescribeInstanceTypes of the EC2 equivalent, r6g.large
                "vcpus": 2,
                "memory_gib": 16.0,
                "cpu_manufacturer": "AWS",
                "burstable": False,
            },
        ),
        "pages": (
            "cache.t3.medium",
            {
                "node_ids": ("0001", "0002", "0003"),
                "engine": "memcached",
                "status": "available",
                "replication_group": None,
                "vcpus": 2,
                "memory_gib": 4.0,
                "cpu_manufacturer": "Intel",
                "burstable": True,
            },
        ),
    }


def test_asks_for_the_host_cpu_of_every_node(clients: ClientFactory):
    create_cluster("eu-west-1", "pages", "memcached", "cache.m5.large", nodes=2)
    (resource,) = elasticache.SLICE.discover(clients, "eu-west-1")

    assert elasticache.SLICE.metric_requests(resource, HOUR) == [
        MetricRequest(
            "AWS/ElastiCache",
            "CPUUtilization",
            (("CacheClusterId", "pages"), ("CacheNodeId", node)),
            "Average",
            3600,
            HOUR,
            HOUR + timedelta(hours=1),
        )
        for node in ("0001", "0002")
    ]


def test_turns_node_cpu_into_one_record_per_cluster_averaged_over_its_nodes(collect):
    create_cluster("eu-west-1", "pages", "memcached", "cache.m5.large", nodes=3)
    create_cluster("eu-west-1", "idle", "redis", "cache.r6g.large")
    put_node_cpu("eu-west-1", "pages", "0001", ((0, 10.0), (30, 30.0), (60, 90.0)))  # 11:00 is the next hour's
    put_node_cpu("eu-west-1", "pages", "0002", ((15, 40.0),))
    # node 0003 published nothing: it is left out of the mean, not counted as idle

    records = {record.resource_id: record for record in collect(elasticache.SLICE, "eu-west-1", HOUR)}

    pages = records["pages"]
    assert (pages.service, pages.resource_type, pages.details.engine, pages.details.node_count) == (
        "elasticache",
        "cache.m5.large",
        "memcached",
        3,
    )
    assert pages.details.cpu_utilization_pct == 30.0  # mean of the nodes' means, 20 and 40
    assert (pages.details.vcpus, pages.details.memory_gib) == (2, 8.0)
    assert records["idle"].details.cpu_utilization_pct is None


def test_collected_clusters_are_estimated_as_their_nodes(collect, counter: ApiCallCounter):
    create_cluster("eu-west-1", "pages", "memcached", "cache.m5.large", nodes=2)
    create_cluster("eu-west-1", "one", "memcached", "cache.m5.large")
    for cluster, nodes in (("pages", ("0001", "0002")), ("one", ("0001",))):
        for node in nodes:
            put_node_cpu("eu-west-1", cluster, node, ((0, 50.0),))

    records = {record.resource_id: record for record in collect(elasticache.SLICE, "eu-west-1", HOUR)}
    pair, one = estimate(records["pages"]), estimate(records["one"])

    assert pair.compute_kwh == 2 * one.compute_kwh > 0
    assert pair.embodied_kgco2e == 2 * one.embodied_kgco2e > 0
    assert pair.flags == one.flags == ()
    # One DescribeCacheClusters and one DescribeInstanceTypes for the region, whatever the number of clusters
    assert counter.calls["elasticache:DescribeCacheClusters"] == 1
    assert counter.calls["ec2:DescribeInstanceTypes"] == 1
    # and three metrics, one per node
    assert counter.metrics_requested == 3
