"""Lambda: every function in the region, with its hourly summed duration and invocations.

``resource_type`` is ``<architecture>-<memory>MB`` (for example ``arm64-1024MB``): the two
settings that decide a function's energy, so functions configured alike group together.
Metrics by FunctionName cover every version and alias of the function.

The estimate charges the vCPU share Lambda gives the configured memory for the summed duration, on Graviton
(arm64) or on CCF's average x86 processor, plus the memory beyond what that share's chip holds; the HTTP API
covers Lambda.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import hardware
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.parts import CAPACITY_UNKNOWN, Parts, memory, processor_kwh, utilisation
from carbonmeter.emissions.uncertainty import Band
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

NAMESPACE = "AWS/Lambda"
PERIOD = 3600
DEFAULT_ARCHITECTURE = "x86_64"
_METRICS = (("Duration", "Sum"), ("Invocations", "Sum"))
_MIB_PER_GIB = 1024.0


class LambdaUsage(ServiceUsage):
    """A function-hour: its architecture and configured memory, summed duration and invocation count."""

    service: Literal[Service.LAMBDA] = Service.LAMBDA
    architecture: str | None = None
    memory_mb: int | None = None
    duration_ms: float = 0.0
    invocations: float = 0.0


class LambdaSlice(ServiceSlice[LambdaUsage]):
    name = Service.LAMBDA
    details_type = LambdaUsage
    read_actions = ("lambda:ListFunctions",)
    providers = frozenset({"http"})
    main_part = "compute"
    data_files = ("processors.csv",)
    embodied_not_modelled = "Lambda's shared fleet is not attributable per function"

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
        details = LambdaUsage(
            architecture=resource.attributes["architecture"],
            memory_mb=resource.attributes["memory_mb"],
            duration_ms=sum(values["Duration"]),
            invocations=sum(values["Invocations"]),
        )
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: LambdaUsage, c: Coefficients) -> Parts:
        parts = Parts()
        if not details.memory_mb:
            parts.flag(CAPACITY_UNKNOWN)
            return parts
        k = c.constants
        if (details.architecture or "x86_64").lower() == "arm64":
            power = hardware.microarchitectures_power(c, (k.lambda_arm64_processor,))
        else:
            # The x86 Lambda fleet's processors are not published: CCF's averages, bounded by the whole data.
            power = hardware.unknown_cpu_power(c)
        for flag in power.flags:
            parts.flag(flag)
        # Lambda publishes no CPU utilisation: the default, bounded by idle and full load.
        load, _ = utilisation(None, c, parts)
        vcpu_hours = m.lambda_vcpu_hours(details.duration_ms, details.memory_mb, k.lambda_mb_per_vcpu)
        parts.compute = processor_kwh(power, load, Band.exact(vcpu_hours), k.pue, 1.0)
        memory_gib_hours = details.memory_mb / _MIB_PER_GIB * details.duration_ms / m.MS_PER_HOUR
        excess = m.excess_memory_gib_hours_by_density(
            memory_gib_hours, vcpu_hours, k.vcpus_per_chip, power.memory_gib_per_chip
        )
        parts.memory = memory(c, excess, 1.0)
        return parts


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


SLICE = LambdaSlice()
