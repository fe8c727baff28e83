"""RDS: every DB instance in the region, with its hourly CPU utilisation.

Allocated storage is reported in GiB and converted to GB. Stopped instances are kept:
their storage is still provisioned, and with no CPU datapoint their utilisation is None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from statistics import fmean
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import HOUR, Service, UsageRecord
from carbonmeter.services.base import GB_PER_GIB, HourContext, Resource, usage_record

NAMESPACE = "AWS/RDS"
PERIOD = 3600


class RdsCollector:
    name: Service = Service.RDS
    read_actions: tuple[str, ...] = ("rds:DescribeDBInstances",)

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = clients.client("rds", region).get_paginator("describe_db_instances").paginate()
        return [_resource(region, instance) for page in pages for instance in page["DBInstances"]]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        dimensions = (("DBInstanceIdentifier", resource.resource_id),)
        return [MetricRequest(NAMESPACE, "CPUUtilization", dimensions, "Average", PERIOD, hour, hour + HOUR)]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        (cpu_request,) = self.metric_requests(resource, context.hour)
        cpu = metrics.get(cpu_request, ())
        attributes = resource.attributes
        return [
            usage_record(
                resource,
                context,
                cpu_utilization_pct=fmean(cpu) if cpu else None,
                multi_az=attributes["multi_az"],
                engine=attributes["engine"],
                storage_gb=attributes["allocated_storage_gib"] * GB_PER_GIB,
                storage_type=attributes["storage_type"],
            )
        ]


def _resource(region: str, instance: Mapping[str, Any]) -> Resource:
    return Resource(
        service=Service.RDS,
        region=region,
        resource_id=instance["DBInstanceIdentifier"],
        resource_type=instance["DBInstanceClass"],
        attributes={
            "multi_az": bool(instance.get("MultiAZ", False)),
            "engine": instance.get("Engine"),
            "storage_type": instance.get("StorageType"),
            "allocated_storage_gib": instance.get("AllocatedStorage", 0),
            "status": instance.get("DBInstanceStatus"),
        },
    )


COLLECTOR = RdsCollector()
