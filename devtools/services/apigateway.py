"""API Gateway on the workbench: a cached REST API, an HTTP API and a WebSocket API, and their hourly traffic.

A REST API gets two stages of one deployment, ``prod`` with a cache cluster and ``staging`` without. Metrics are
published as API Gateway publishes them, every minute (60 samples an hour), keyed as the slice reads them: REST
``Count`` by ``ApiName``; HTTP ``Count`` and ``DataProcessed`` and WebSocket ``MessageCount`` by ``ApiId``. An API
that served nothing in an hour publishes nothing for it. The two APIs are two clients (``apigateway``,
``apigatewayv2``) with one IAM prefix and one endpoint.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.apigateway import HTTP, NAMESPACE, REST, WEBSOCKET
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.metrics import MetricWriter, Profile, total_datum

SAMPLES_PER_HOUR = 60  # API Gateway publishes every minute
CACHED_STAGE, PLAIN_STAGE = "prod", "staging"

# Both APIs throttle with TooManyRequestsException (429) and, like every REST-JSON API, answer credentials used in
# a region the account has not enabled with UnrecognizedClientException (403).
APIGATEWAY_API = ClientFaults(
    "apigateway",
    throttling=("TooManyRequestsException", 429),
    region_not_enabled=("UnrecognizedClientException", 403),
    soak_order=10,
)
APIGATEWAYV2_API = ClientFaults(
    "apigatewayv2",
    throttling=("TooManyRequestsException", 429),
    region_not_enabled=("UnrecognizedClientException", 403),
    soak_order=11,
)


@dataclass(frozen=True)
class ApiSpec:
    protocol: str
    peak_requests_per_hour: int
    # REST: the prod stage's cache cluster size, one of API Gateway's sizes in GB ("0.5", "1.6", "6.1", ...).
    cache_size_gb: str | None = None
    # HTTP: the mean bytes DataProcessed counts per request (request and response).
    mean_bytes_per_request: float = 0.0


class ApiGatewayDevtools(ServiceDevtools[ApiSpec]):
    service = Service.APIGATEWAY
    clients = (APIGATEWAY_API, APIGATEWAYV2_API)
    demo_fleet = (
        ApiSpec(REST, 18_000, cache_size_gb="1.6"),
        ApiSpec(HTTP, 40_000, mean_bytes_per_request=3_500),
        ApiSpec(WEBSOCKET, 6_000),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[ApiSpec]) -> None:
        existing = _existing_apis(seeding.client("apigateway"), seeding.client("apigatewayv2"))
        # Each API is made, then its profile and values drawn: interleaved, as the other services do.
        for index, spec in enumerate(specs):
            name = f"demo-{spec.protocol.lower()}-{index:05d}"
            api_id = existing.get(name) or _create_api(seeding, name, spec)
            seeding.resources[Service.APIGATEWAY].append(api_id)
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            _put_api_metrics(seeding.metrics, api_id, name, spec, profile, seeding.hours, seeding.rng)


def _existing_apis(apigateway: Any, apigatewayv2: Any) -> Mapping[str, str]:
    """Name -> id of the APIs already in the region, so seeding twice does not make them twice."""
    rest = (api for page in apigateway.get_paginator("get_rest_apis").paginate() for api in page["items"])
    v2 = (api for page in apigatewayv2.get_paginator("get_apis").paginate() for api in page["Items"])
    return {**{api["name"]: api["id"] for api in rest}, **{api["Name"]: api["ApiId"] for api in v2}}


def _create_api(seeding: RegionSeeding, name: str, spec: ApiSpec) -> str:
    if spec.protocol == REST:
        return _create_rest_api(seeding.client("apigateway"), name, spec)
    params: dict[str, Any] = {"Name": name, "ProtocolType": spec.protocol}
    if spec.protocol == WEBSOCKET:
        params["RouteSelectionExpression"] = "$request.body.action"
    return str(seeding.client("apigatewayv2").create_api(**params)["ApiId"])


def _create_rest_api(apigateway: Any, name: str, spec: ApiSpec) -> str:
    api_id = str(apigateway.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"])
    # A deployment needs a method: GET / answered by a mock integration.
    (root,) = apigateway.get_resources(restApiId=api_id)["items"]
    apigateway.put_method(restApiId=api_id, resourceId=root["id"], httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root["id"], httpMethod="GET", type="MOCK")
    deployment = apigateway.create_deployment(restApiId=api_id)["id"]
    cache = {"cacheClusterEnabled": True, "cacheClusterSize": spec.cache_size_gb} if spec.cache_size_gb else {}
    with contextlib.suppress(apigateway.exceptions.ConflictException):
        apigateway.create_stage(restApiId=api_id, stageName=CACHED_STAGE, deploymentId=deployment, **cache)
    with contextlib.suppress(apigateway.exceptions.ConflictException):
        apigateway.create_stage(restApiId=api_id, stageName=PLAIN_STAGE, deploymentId=deployment)
    return api_id


def _put_api_metrics(
    metrics: MetricWriter,
    api_id: str,
    name: str,
    spec: ApiSpec,
    profile: Profile,
    hours: Sequence[datetime],
    rng: random.Random,
) -> None:
    # REST APIs are keyed by name in CloudWatch, HTTP and WebSocket APIs by id.
    key = {"Name": "ApiName", "Value": name} if spec.protocol == REST else {"Name": "ApiId", "Value": api_id}
    requests_metric = "MessageCount" if spec.protocol == WEBSOCKET else "Count"
    for hour in hours:
        requests = round(spec.peak_requests_per_hour * (0.05 + 0.95 * profile.load(hour)) * rng.uniform(0.7, 1.3))
        if requests == 0:
            continue
        metrics.add(NAMESPACE, total_datum(requests_metric, [key], hour, requests, SAMPLES_PER_HOUR, "Count"))
        if spec.protocol == HTTP:
            processed = requests * spec.mean_bytes_per_request * rng.uniform(0.8, 1.25)
            metrics.add(NAMESPACE, total_datum("DataProcessed", [key], hour, processed, SAMPLES_PER_HOUR, "Bytes"))


DEVTOOLS = ApiGatewayDevtools()
