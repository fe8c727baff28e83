"""API Gateway: every REST, HTTP and WebSocket API in the region, one record per API (``resource_id`` = its id).

What API Gateway itself runs for an API, and what CarbonMeter can see of it:

- a REST API stage with caching on has a cache cluster of a size the customer picks (0.5 to 237 GB): GetStages
  lists it, and it counts as memory-hours, the whole cluster for the whole hour;
- an HTTP API publishes ``DataProcessed`` (bytes, keyed by ``ApiId``): it is the record's network;
- every API's requests (REST and HTTP ``Count``, WebSocket ``MessageCount``) are read and kept on the record, but
  not estimated: no published energy figure per request exists, so they add nothing and every record says so.

REST API metrics are keyed by ``ApiName``, which REST APIs need not keep unique: when two APIs of a region share
a name, CloudWatch adds them up and neither can be told apart, so their requests are not read. Backends (Lambda,
ECS, EC2...) are never counted here: they have records of their own.

The estimate is builtin only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.parts import Parts, memory
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

NAMESPACE = "AWS/ApiGateway"
PERIOD = 3600
REST = "REST"
HTTP = "HTTP"
WEBSOCKET = "WEBSOCKET"
# GetRestApis answers at most 500 APIs a page (25 unless asked); fewer pages, fewer calls against its quota.
REST_APIS_PAGE_SIZE = 500

# The metric counting an API's requests, and the one measuring its bytes, by protocol (API Gateway's
# CloudWatch docs for REST, HTTP and WebSocket APIs); WebSocket and REST APIs publish no bytes.
REQUESTS_METRIC = {REST: "Count", HTTP: "Count", WEBSOCKET: "MessageCount"}
BYTES_METRIC = "DataProcessed"

# Flags, declared with the slice that raises them (see ``emissions/parts.py`` for the shared ones).
REQUESTS_NOT_ESTIMATED = "apigateway_requests_not_estimated"
DATA_PROCESSED_AS_NETWORK = "apigateway_data_processed_as_network"
DATA_NOT_MEASURED = "apigateway_data_not_measured"
CACHE_AS_MEMORY = "apigateway_cache_memory_only"


class ApiGatewayUsage(ServiceUsage):
    """An API-hour: its protocol, the cache its REST stages hold, and the requests it served (not estimated)."""

    service: Literal[Service.APIGATEWAY] = Service.APIGATEWAY
    protocol: str = REST
    # The summed size (GB, as API Gateway names the sizes) of its stages' cache clusters, and how many stages have one.
    cache_gb: float = 0.0
    cache_stages: int = 0
    # The hour's requests (WebSocket: messages); None when they could not be read (a REST API's shared name).
    requests: float | None = None


class ApiGatewaySlice(ServiceSlice[ApiGatewayUsage]):
    name = Service.APIGATEWAY
    details_type = ApiGatewayUsage
    # API Gateway's IAM actions are the HTTP methods of its management API (v1 and v2 alike): GET only reads.
    read_actions = ("apigateway:GET",)
    embodied_not_modelled = "API Gateway's hardware (its stage caches' included) is not published"
    flag_meanings = MappingProxyType(
        {
            REQUESTS_NOT_ESTIMATED: "requests read, not estimated: a floor",
            CACHE_AS_MEMORY: "REST stage cache as memory only",
            DATA_PROCESSED_AS_NETWORK: "DataProcessed at the network coefficient",
            DATA_NOT_MEASURED: "no byte count published: no network part",
        }
    )
    # On "*" GET would read every API Gateway resource, API keys' values included: only the three listings.
    read_resources = MappingProxyType(
        {
            "apigateway:GET": (
                "arn:*:apigateway:*::/restapis",
                "arn:*:apigateway:*::/restapis/*/stages",
                "arn:*:apigateway:*::/apis",
            )
        }
    )
    # Neither Boavizta nor the HTTP API's contract covers it; main_part is never read for it.
    providers = frozenset()
    main_part = "compute"

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        return [
            *_rest_apis(clients.client("apigateway", region), region),
            *_v2_apis(clients.client("apigatewayv2", region), region),
        ]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        protocol = resource.resource_type
        if protocol == REST:
            if resource.attributes["name_shared"]:
                return []
            dimensions: tuple[tuple[str, str], ...] = (("ApiName", resource.attributes["api_name"]),)
        else:
            dimensions = (("ApiId", resource.resource_id),)
        metrics = [REQUESTS_METRIC.get(protocol, "Count")]
        if protocol == HTTP:
            metrics.append(BYTES_METRIC)
        return [MetricRequest(NAMESPACE, metric, dimensions, "Sum", PERIOD, hour, hour + HOUR) for metric in metrics]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        sums = {
            request.metric_name: sum(metrics.get(request, ()))
            for request in self.metric_requests(resource, context.hour)
        }
        attributes = resource.attributes
        details = ApiGatewayUsage(
            protocol=resource.resource_type,
            cache_gb=attributes.get("cache_gb", 0.0),
            cache_stages=attributes.get("cache_stages", 0),
            # An API without a datapoint served nothing that hour: 0, unless its requests cannot be read at all.
            requests=sums.get(REQUESTS_METRIC.get(resource.resource_type, "Count")),
        )
        return [self.record(resource, context, details, network_out_bytes=sums.get(BYTES_METRIC, 0.0))]

    def estimate(self, usage: UsageRecord, details: ApiGatewayUsage, c: Coefficients) -> Parts:
        parts = Parts()
        # Requests are on the record, but no published coefficient turns them into energy: they add nothing.
        parts.flag(REQUESTS_NOT_ESTIMATED)
        # The network part itself is the shared one, from the core network_out_bytes (estimate.py).
        parts.flag(DATA_PROCESSED_AS_NETWORK if details.protocol == HTTP else DATA_NOT_MEASURED)
        if details.cache_gb > 0:
            # The cache cluster's memory, whole: no compute and no embodied, its hardware is not published.
            parts.memory = memory(c, details.cache_gb * usage.hours, 1.0)
            parts.flag(CACHE_AS_MEMORY)
        return parts


def _rest_apis(apigateway: Any, region: str) -> list[Resource]:
    pages = apigateway.get_paginator("get_rest_apis").paginate(PaginationConfig={"PageSize": REST_APIS_PAGE_SIZE})
    apis = [api for page in pages for api in page.get("items", [])]
    names = Counter(api["name"] for api in apis)
    # GetStages is not paginated: one call answers every stage of the API.
    return [
        _rest_resource(region, api, apigateway.get_stages(restApiId=api["id"]).get("item", []), names[api["name"]] > 1)
        for api in apis
    ]


def _rest_resource(region: str, api: Mapping[str, Any], stages: Iterable[Mapping[str, Any]], shared: bool) -> Resource:
    cached = [stage for stage in stages if stage.get("cacheClusterEnabled")]
    return Resource(
        service=Service.APIGATEWAY,
        region=region,
        resource_id=api["id"],
        resource_type=REST,
        attributes={
            "api_name": api["name"],
            "name_shared": shared,
            "endpoint_types": tuple(api.get("endpointConfiguration", {}).get("types", ())),
            "cache_gb": sum(cache_size_gb(stage) for stage in cached),
            "cache_stages": len(cached),
        },
        created_at=api.get("createdDate"),
    )


def cache_size_gb(stage: Mapping[str, Any]) -> float:
    """A caching stage's cluster size in GB; 0.5, API Gateway's default, when the answer names none."""
    return float(stage.get("cacheClusterSize") or 0.5)


def _v2_apis(apigatewayv2: Any, region: str) -> list[Resource]:
    pages = apigatewayv2.get_paginator("get_apis").paginate()
    return [
        Resource(
            service=Service.APIGATEWAY,
            region=region,
            resource_id=api["ApiId"],
            resource_type=str(api["ProtocolType"]),
            attributes={"api_name": api.get("Name")},
            created_at=api.get("CreatedDate"),
        )
        for page in pages
        for api in page.get("Items", [])
    ]


SLICE = ApiGatewaySlice()
