"""RDS: every DB instance in the region, with its hourly CPU utilisation.

Allocated storage is reported in GiB and converted to GB. Stopped instances are kept:
their storage is still provisioned, and with no CPU datapoint their utilisation is None.
A class ``db.X`` runs on the EC2 type ``X``: DescribeInstanceTypes sizes it (vCPUs, memory,
CPU manufacturer, burstable) when such a type exists. Aurora Serverless v2 (``db.serverless``)
has no size; its hourly ServerlessDatabaseCapacity (ACUs) is read instead.

The estimate is the shared virtual-machine one (``emissions/instances.py``) for the host, doubled for a classic
Multi-AZ standby, plus the database storage; Boavizta (the host) and the HTTP API cover RDS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from statistics import fmean
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.instances import Machine, add_instance
from carbonmeter.emissions.parts import AURORA_SERVERLESS_ACU, STORAGE_CLASS_UNKNOWN, Parts, storage
from carbonmeter.emissions.uncertainty import Band
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import GB_PER_GIB, HourContext, InstanceView, Resource, ServiceSlice
from carbonmeter.services.instance_types import describe_instance_types

NAMESPACE = "AWS/RDS"
PERIOD = 3600
SERVERLESS_CLASS = "db.serverless"
_CLASS_PREFIX = "db."


class RdsUsage(ServiceUsage):
    """A DB instance-hour: its host's size, CPU utilisation (or ACUs), deployment, engine and storage."""

    service: Literal[Service.RDS] = Service.RDS
    vcpus: float | None = None
    memory_gib: float | None = None
    cpu_utilization_pct: float | None = None
    cpu_manufacturer: str | None = None
    burstable: bool = False
    # Aurora Serverless v2: average ServerlessDatabaseCapacity (ACUs) over the hour.
    capacity_units: float | None = None
    multi_az: bool = False
    engine: str | None = None
    storage_gb: float = 0.0
    storage_type: str | None = None

    @property
    def aurora(self) -> bool:
        return (self.engine or "").lower().startswith("aurora")

    @property
    def copies(self) -> int:
        """Instances running: an Aurora replica is its own DB instance (and record); classic Multi-AZ hides one."""
        return 2 if self.multi_az and not self.aurora else 1


class RdsSlice(ServiceSlice[RdsUsage]):
    name = Service.RDS
    details_type = RdsUsage
    read_actions = ("ec2:DescribeInstanceTypes", "rds:DescribeDBInstances")
    providers = frozenset({"boavizta", "http", "oxygenit"})
    main_part = "compute"
    data_files = ("ec2-instance-types.csv", "rds-instance-vcpus.csv", "storage-classes.csv")
    embodied_not_modelled = None
    remembers_gone = True

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
        details = RdsUsage(
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
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: RdsUsage, c: Coefficients) -> Parts:
        parts = Parts()
        add_instance(parts, _machine(usage, details, c, parts), c)
        if details.storage_gb > 0:
            parts.storage = _storage(usage, details, c, parts)
        return parts

    def instance(self, usage: UsageRecord, details: RdsUsage) -> InstanceView:
        # A class db.X runs on the EC2 instance type X.
        return InstanceView(
            usage.resource_type.removeprefix(_CLASS_PREFIX), details.copies, details.cpu_utilization_pct
        )


def _machine(usage: UsageRecord, details: RdsUsage, c: Coefficients, parts: Parts) -> Machine:
    k = c.constants
    multiplier = k.replication_rds_multi_az if details.copies > 1 else 1.0
    vcpus = details.vcpus if details.vcpus is not None else c.rds_vcpus.get(usage.resource_type)
    memory_gib = details.memory_gib
    serverless = usage.resource_type == SERVERLESS_CLASS
    if serverless and details.capacity_units is not None and vcpus is None:
        # Serverless v2 has no instance type: its measured capacity (ACUs) stands in for one.
        parts.flag(AURORA_SERVERLESS_ACU)
        vcpus = details.capacity_units * k.aurora_acu_vcpus
        memory_gib = details.capacity_units * k.aurora_acu_memory_gib
    return Machine(
        type_name=usage.resource_type.removeprefix(_CLASS_PREFIX),
        hours=usage.hours,
        vcpus=vcpus,
        memory_gib=memory_gib,
        cpu_utilization_pct=details.cpu_utilization_pct,
        cpu_manufacturer=details.cpu_manufacturer,
        burstable=details.burstable,
        multiplier=multiplier,
        sized=not serverless,
    )


def _storage(usage: UsageRecord, details: RdsUsage, c: Coefficients, parts: Parts) -> Band:
    k = c.constants
    aurora = details.aurora
    storage_class, known = c.storage_class(Service.RDS.value, details.storage_type or ("aurora" if aurora else None))
    if not known:
        parts.flag(STORAGE_CLASS_UNKNOWN)
    multiplier = k.replication_rds_multi_az if details.copies > 1 else 1.0
    replication = k.replication_aurora_storage if aurora else storage_class.replication_factor * multiplier
    return storage(c, details.storage_gb, usage.hours, storage_class.media, replication)


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
        created_at=instance.get("InstanceCreateTime"),
    )


SLICE = RdsSlice()
