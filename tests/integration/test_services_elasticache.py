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


def test_asks_for_the_host_cpu_and_bytes_sent_of_every_node(clients: ClientFactory):
    create_cluster("eu-west-1", "pages", "memcached", "cache.m5.large", nodes=2)
    (resource,) = elasticache.SLICE.discover(clients, "eu-west-1")

    assert elasticache.SLICE.metric_requests(resource, HOUR) == [
        MetricRequest(
            "AWS/ElastiCache",
            metric,
            (("CacheClusterId", "pages"), ("CacheNodeId", node)),
            statistic,
            3600,
            HOUR,
            HOUR + timedelta(hours=1),
        )
        for node in ("0001", "0002")
        for metric, statistic in (("CPUUtilization", "Average"), ("NetworkBytesOut", "Sum"))
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


def test_collected_clusters_are_estimated_as_their_nodes(collect, counter: ApiCallCounter, no_instance_type_snapshot):
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
    # One DescribeCacheClusters and (with no snapshot to answer m5.large) one DescribeInstanceTypes for the region,
    # whatever the number of clusters
    assert counter.calls["elasticache:DescribeCacheClusters"] == 1
    assert counter.calls["ec2:DescribeInstanceTypes"] == 1
    # and six metrics, CPU and bytes sent per node
    assert counter.metrics_requested == 6


def create_serverless_cache(region: str, name: str, engine: str = "valkey") -> None:
    boto3.client("elasticache", region_name=region).create_serverless_cache(ServerlessCacheName=name, Engine=engine)


def put_serverless_metrics(region: str, cache: str, metrics: dict[str, tuple[tuple[int, float], ...]]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/ElastiCache",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "clusterId", "Value": cache}],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
            }
            for name, points in metrics.items()
            for minute, value in points
        ],
    )


def test_discovers_serverless_caches_beside_node_based_clusters(clients: ClientFactory, region: str):
    create_cluster(region, "sessions", "redis", "cache.r6g.large")
    create_serverless_cache(region, "carts")

    resources = {resource.resource_id: resource for resource in elasticache.SLICE.discover(clients, region)}

    assert resources["carts"].resource_type == "serverless"
    assert dict(resources["carts"].attributes) == {"engine": "valkey", "status": "available"}
    assert resources["sessions"].resource_type == "cache.r6g.large"


def test_discovery_reads_every_page_of_serverless_caches(clients: ClientFactory):
    for index in range(3):
        create_serverless_cache("eu-west-1", f"cache-{index}")
    paginator = boto3.client("elasticache", region_name="eu-west-1").get_paginator("describe_serverless_caches")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))

    assert [len(page["ServerlessCaches"]) for page in pages] == [2, 1]
    assert len(elasticache.SLICE.discover(clients, "eu-west-1")) == 3


def test_a_serverless_cache_is_its_data_in_memory_twice_and_its_network(collect):
    create_serverless_cache("eu-west-1", "carts")
    create_serverless_cache("eu-west-1", "quiet")
    gib = 1024.0**3
    put_serverless_metrics(
        "eu-west-1",
        "carts",
        {
            "BytesUsedForCache": ((0, 3 * gib), (30, 5 * gib)),
            "ElastiCacheProcessingUnits": ((0, 1_000.0), (30, 2_000.0)),
            "NetworkBytesOut": ((0, 4e9), (30, 6e9)),
        },
    )

    records = {record.resource_id: record for record in collect(elasticache.SLICE, "eu-west-1", HOUR)}
    carts, quiet = records["carts"], records["quiet"]
    estimated = estimate(carts)

    # 4 GiB on average, the ECPUs kept on the record, 10 GB sent
    assert (carts.details.data_gib, carts.details.ecpus, carts.network_out_bytes) == (4.0, 3_000.0, 10e9)
    assert estimated.memory_kwh > 0
    assert estimated.network_kwh > 0
    # no compute and no embodied: a floor
    assert (estimated.compute_kwh, estimated.embodied_kgco2e) == (0, 0)
    assert set(estimated.flags) == {"elasticache_serverless_memory_only", "elasticache_serverless_two_copies"}
    # A cache that published nothing is counted as nothing, and says why
    assert estimate(quiet).memory_kwh == 0
    assert "elasticache_serverless_data_not_measured" in estimate(quiet).flags


def test_serverless_memory_is_two_copies_of_the_data(collect):
    create_serverless_cache("eu-west-1", "one")
    create_serverless_cache("eu-west-1", "two")
    gib = 1024.0**3
    put_serverless_metrics("eu-west-1", "one", {"BytesUsedForCache": ((0, 1 * gib),)})
    put_serverless_metrics("eu-west-1", "two", {"BytesUsedForCache": ((0, 2 * gib),)})

    records = {record.resource_id: record for record in collect(elasticache.SLICE, "eu-west-1", HOUR)}

    assert estimate(records["two"]).memory_kwh == 2 * estimate(records["one"]).memory_kwh > 0


def test_bytes_sent_by_every_node_are_the_cluster_network(collect):
    create_cluster("eu-west-1", "pages", "memcached", "cache.m5.large", nodes=2)
    boto3.client("cloudwatch", region_name="eu-west-1").put_metric_data(
        Namespace="AWS/ElastiCache",
        MetricData=[
            {
                "MetricName": "NetworkBytesOut",
                "Dimensions": [
                    {"Name": "CacheClusterId", "Value": "pages"},
                    {"Name": "CacheNodeId", "Value": node},
                ],
                "Timestamp": HOUR + timedelta(minutes=10),
                "Value": sent,
            }
            for node, sent in (("0001", 2e9), ("0002", 3e9))
        ],
    )

    (record,) = collect(elasticache.SLICE, "eu-west-1", HOUR)

    assert record.network_out_bytes == 5e9
    assert estimate(record).network_kwh > 0
