"""API Gateway collection on the embedded AWS: REST, HTTP and WebSocket APIs, REST stage caches, hourly traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.emissions import estimate
from carbonmeter.services import apigateway

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
PUE = 1.135


def rest_api(region: str, name: str, stages: dict[str, str | None]) -> str:
    """A REST API with one stage per entry, each with a cache cluster of that size (GB), or none for None."""
    client = boto3.client("apigateway", region_name=region)
    api_id = client.create_rest_api(name=name)["id"]
    (root,) = client.get_resources(restApiId=api_id)["items"]
    client.put_method(restApiId=api_id, resourceId=root["id"], httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root["id"], httpMethod="GET", type="MOCK")
    deployment = client.create_deployment(restApiId=api_id)["id"]
    for stage, size in stages.items():
        cache = {"cacheClusterEnabled": True, "cacheClusterSize": size} if size else {}
        client.create_stage(restApiId=api_id, stageName=stage, deploymentId=deployment, **cache)
    return str(api_id)


def v2_api(region: str, name: str, protocol: str) -> str:
    params = {"Name": name, "ProtocolType": protocol}
    if protocol == "WEBSOCKET":
        params["RouteSelectionExpression"] = "$request.body.action"
    return str(boto3.client("apigatewayv2", region_name=region).create_api(**params)["ApiId"])


def put(region: str, metric: str, dimension: tuple[str, str], values: tuple[tuple[int, float], ...]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in values
        ],
    )


def test_discovers_every_api_type_with_the_cache_its_rest_stages_hold(clients: ClientFactory, region: str):
    # Given a REST API with two caching stages and one without, an HTTP API and a WebSocket API
    orders = rest_api(region, "orders", {"prod": "6.1", "beta": "0.5", "dev": None})
    web = v2_api(region, "web", "HTTP")
    chat = v2_api(region, "chat", "WEBSOCKET")

    # When the region is discovered
    resources = {resource.resource_id: resource for resource in apigateway.SLICE.discover(clients, region)}

    # Then each API is one resource, keyed by its id; the REST one holds its caching stages' clusters, summed
    assert {api_id: r.resource_type for api_id, r in resources.items()} == {
        orders: "REST",
        web: "HTTP",
        chat: "WEBSOCKET",
    }
    assert dict(resources[orders].attributes) == {
        "api_name": "orders",
        "name_shared": False,
        "endpoint_types": ("EDGE",),
        "cache_gb": pytest.approx(6.6),
        "cache_stages": 2,
    }
    assert resources[web].attributes["api_name"] == "web"


def test_asks_for_each_apis_traffic_under_the_keys_its_type_publishes(clients: ClientFactory):
    orders = rest_api("eu-west-1", "orders", {"prod": None})
    web = v2_api("eu-west-1", "web", "HTTP")
    chat = v2_api("eu-west-1", "chat", "WEBSOCKET")
    resources = {r.resource_id: r for r in apigateway.SLICE.discover(clients, "eu-west-1")}

    def requested(api_id: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        requests = apigateway.SLICE.metric_requests(resources[api_id], HOUR)
        assert {(r.namespace, r.stat, r.period, r.start, r.end) for r in requests} == {
            ("AWS/ApiGateway", "Sum", 3600, HOUR, HOUR + timedelta(hours=1))
        }
        return [(r.metric_name, r.dimensions) for r in requests]

    # REST APIs are keyed by name; HTTP and WebSocket APIs by id, and only HTTP APIs publish the bytes processed
    assert requested(orders) == [("Count", (("ApiName", "orders"),))]
    assert requested(web) == [("Count", (("ApiId", web),)), ("DataProcessed", (("ApiId", web),))]
    assert requested(chat) == [("MessageCount", (("ApiId", chat),))]


def test_rest_apis_sharing_a_name_do_not_read_the_requests_cloudwatch_adds_up(collect):
    # Given two REST APIs named alike in one region (REST API names need not be unique) and a third of its own name
    first = rest_api("eu-west-1", "legacy", {"prod": "0.5"})
    second = rest_api("eu-west-1", "legacy", {"prod": None})
    alone = rest_api("eu-west-1", "billing", {"prod": None})
    put("eu-west-1", "Count", ("ApiName", "legacy"), ((5, 100.0),))
    put("eu-west-1", "Count", ("ApiName", "billing"), ((5, 40.0),))

    records = {record.resource_id: record for record in collect(apigateway.SLICE, "eu-west-1", HOUR)}

    # Then the shared name's sum is attributed to neither, and their caches are still counted
    assert records[first].details.requests is records[second].details.requests is None
    assert records[first].details.cache_gb == 0.5
    assert records[alone].details.requests == 40.0


def test_turns_the_hours_traffic_into_one_record_per_api(collect):
    orders = rest_api("eu-west-1", "orders", {"prod": "1.6"})
    web = v2_api("eu-west-1", "web", "HTTP")
    chat = v2_api("eu-west-1", "chat", "WEBSOCKET")
    idle = v2_api("eu-west-1", "idle", "HTTP")
    put("eu-west-1", "Count", ("ApiName", "orders"), ((0, 300.0), (59, 200.0), (60, 999.0)))  # 11:00 is the next hour
    put("eu-west-1", "Count", ("ApiId", web), ((1, 1000.0), (2, 500.0)))
    put("eu-west-1", "DataProcessed", ("ApiId", web), ((1, 2e6), (2, 1e6)))
    put("eu-west-1", "MessageCount", ("ApiId", chat), ((30, 70.0),))

    records = {record.resource_id: record for record in collect(apigateway.SLICE, "eu-west-1", HOUR)}

    assert {api_id: (r.service, r.resource_type) for api_id, r in records.items()} == {
        orders: ("apigateway", "REST"),
        web: ("apigateway", "HTTP"),
        chat: ("apigateway", "WEBSOCKET"),
        idle: ("apigateway", "HTTP"),
    }
    assert (records[orders].details.requests, records[orders].details.cache_gb) == (500.0, 1.6)
    assert records[orders].network_out_bytes == 0
    # The HTTP API's bytes processed are its network; its requests are kept beside them
    assert (records[web].details.requests, records[web].network_out_bytes) == (1500.0, 3e6)
    assert records[chat].details.requests == 70.0
    # An API that published nothing served nothing that hour
    assert (records[idle].details.requests, records[idle].network_out_bytes) == (0.0, 0.0)


def test_collected_apis_are_estimated_from_cache_and_bytes_only(collect, counter: ApiCallCounter):
    cached = rest_api("eu-west-1", "orders", {"prod": "6.1", "dev": None})
    plain = rest_api("eu-west-1", "status", {"prod": None})
    web = v2_api("eu-west-1", "web", "HTTP")
    put("eu-west-1", "Count", ("ApiName", "orders"), ((0, 1e6),))
    put("eu-west-1", "Count", ("ApiName", "status"), ((0, 1e6),))
    put("eu-west-1", "Count", ("ApiId", web), ((0, 1e6),))
    put("eu-west-1", "DataProcessed", ("ApiId", web), ((0, 2e9),))

    records = {record.resource_id: estimate(record) for record in collect(apigateway.SLICE, "eu-west-1", HOUR)}

    # The cache cluster is 6.1 GB of memory for the hour; a million requests add nothing
    assert records[cached].memory_kwh == pytest.approx(6.1 * 0.000392 * PUE)
    assert records[cached].compute_kwh == records[cached].embodied_kgco2e == 0
    assert records[plain].energy_kwh == 0
    # 2 GB processed at the network coefficient, 0.001 kWh per GB
    assert records[web].network_kwh == pytest.approx(2 * 0.001 * PUE)
    assert all("apigateway_requests_not_estimated" in record.flags for record in records.values())
    # One GetRestApis and one GetApis for the region, one GetStages per REST API (the call is not paginated)
    assert counter.calls["apigateway:GetRestApis"] == 1
    assert counter.calls["apigateway:GetApis"] == 1
    assert counter.calls["apigateway:GetStages"] == 2
    # and one metric per REST API, two for the HTTP API
    assert counter.metrics_requested == 4
