"""Lambda: every function in the region, with its hourly summed duration and invocations.

``resource_type`` is ``<architecture>-<memory>MB`` (for example ``arm64-1024MB``): the two
settings that decide a function's energy, so functions configured alike group together.
Metrics by FunctionName cover every version and alias of the function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import HOUR, Service, UsageRecord
from carbonmeter.services.base import HourContext, Resource, usage_record

NAMESPACE = "AWS/Lambda"
PERIOD = 3600
DEFAULT_ARCHITECTURE = "x86_64"
_METRICS = (("Duration", "Sum"), ("Invocations", "Sum"))


class LambdaCollector:
    name: Service = Service.LAMBDA
    read_actions: tuple[str, ...] = ("lambda:ListFunctions",)

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = clients.client("lambda", region).get_paginator("list_functions").paginate()
        return [_resource(region, function) for page in pages for function in page["Functions"]]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        dimensions = (("FunctionName", resource.resource_id),)
        return [
            MetricRequest(NAMESPACE, metric, dimensions, stat, PERIOD, hour, hour + HOUR) for metric, stat in _METRICS
        ]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        values = {
            request.metric_name: metrics.get(request, ()) for request in self.metric_requests(resource, context.hour)
        }
        return [
            usage_record(
                resource,
                context,
                architecture=resource.attributes["architecture"],
                memory_mb=resource.attributes["memory_mb"],
                duration_ms=sum(values["Duration"]),
                invocations=sum(values["Invocations"]),
            )
        ]


def _resource(region: str, function: Mapping[str, Any]) -> Resource:
    architecture = (function.get("Architectures") or [DEFAULT_ARCHITECTURE])[0]
    memory_mb = int(function["MemorySize"])
    return Resource(
        service=Service.LAMBDA,
        region=region,
        resource_id=function["FunctionName"],
        resource_type=f"{architecture}-{memory_mb}MB",
        attributes={"architecture": architecture, "memory_mb": memory_mb, "runtime": function.get("Runtime")},
    )


COLLECTOR = LambdaCollector()
