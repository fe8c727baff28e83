"""RDS: every DB instance in the region, with its hourly CPU utilisation.

Allocated storage is reported in GiB and converted to GB. Stopped instances are kept:
their storage is still provisioned, and with no CPU datapoint their utilisation is None.
A class ``db.X`` runs on the EC2 type ``X``: DescribeInstanceTypes sizes it (vCPUs, memory,
CPU manufacturer, burstable) when such a type exists. Aurora Serverless v2 (``db.serverless``)
has no size; its hourly ServerlessDatabaseCapacity (ACUs) is read instead.
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
from carbonmeter.services.ec2 import describe_instance_types

NAMESPACE = "AWS/RDS"
PERIOD = 3600
SERVERLESS_CLASS = "db.serverless"
_CLASS_PREFIX = "db."


class RdsCollector:
    name: Service = Service.RDS
    read_actions: tuple[str, ...] = ("ec2:DescribeInstanceTypes", "rds:DescribeDBInstances")

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = clients.client("rds", region).get_paginator("describe_db_instances").paginate()
        instances = [instance for page in pages for instance in page["DBInstances"]]
        ec2_types = {name for instance in instances if (name := _ec2_type(instance["DBInstanceClass"]))}
        specs = (
            describe_instance_types(clients.client("ec2", region), ec2_types, tolerate_unknown=True)
            if ec2_types
            else {}
        )
        return [
            _resource(region, instance, specs.get(_ec2_type(instance["DBInstanceClass"]) or "", {}))
            for instance in instances
        ]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        dimensions = (("DBInstanceIdentifier", resource.resource_id),)
        requests = [MetricRequest(NAMESPACE, "CPUUtilization", dimensions, "Average", PERIOD, hour, hour + HOUR)]
        if resource.resource_type == SERVERLESS_CLASS:
            requests.append(
                MetricRequest(NAMESPACE, "ServerlessDatabaseCapacity", dimensions, "Average", PERIOD, hour, hour + HOUR)
            )
        return requests

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        values = {
            request.metric_name: metrics.get(request, ()) for request in self.metric_requests(resource, context.hour)
        }
        cpu = values["CPUUtilization"]
        capacity = values.get("ServerlessDatabaseCapacity", ())
        attributes = resource.attributes
        return [
            usage_record(
                resource,
                context,
                cpu_utilization_pct=fmean(cpu) if cpu else None,
                capacity_units=fmean(capacity) if capacity else None,
                vcpus=attributes.get("vcpus"),
                memory_gib=attributes.get("memory_gib"),
                cpu_manufacturer=attributes.get("cpu_manufacturer"),
                burstable=bool(attributes.get("burstable")),
                multi_az=attributes["multi_az"],
                engine=attributes["engine"],
                storage_gb=attributes["allocated_storage_gib"] * GB_PER_GIB,
                storage_type=attributes["storage_type"],
            )
        ]


def _ec2_type(db_instance_class: str) -> str | None:
    """``db.r6g.large`` -> ``r6g.large``; None for classes that are no EC2 size (``db.serverless``)."""
    if db_instance_class == SERVERLESS_CLASS or not db_instance_class.startswith(_CLASS_PREFIX):
        return None
    return db_instance_class.removeprefix(_CLASS_PREFIX)


def _resource(region: str, instance: Mapping[str, Any], spec: Mapping[str, Any]) -> Resource:
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
            "vcpus": spec.get("vcpus"),
            "memory_gib": spec.get("memory_gib"),
            "cpu_manufacturer": spec.get("cpu_manufacturer"),
            "burstable": spec.get("burstable", False),
        },
    )


COLLECTOR = RdsCollector()
