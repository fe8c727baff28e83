"""EBS: every volume in the region, attached or not, sized from DescribeVolumes.

Provisioned size is what the storage holds during the hour, so no metric is read. The estimate is storage energy
only, by the volume type's media and replication (``storage-classes.csv``); the HTTP API covers EBS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.parts import Parts, class_storage
from carbonmeter.models import Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import GB_PER_GIB, HourContext, Resource, ServiceSlice


class EbsUsage(ServiceUsage):
    """A volume-hour: its provisioned size in GB and its volume type."""

    service: Literal[Service.EBS] = Service.EBS
    storage_gb: float = 0.0
    storage_type: str | None = None
    # DescribeVolumes' State ("available": attached to nothing; "in-use"): what the recommendations read to find
    # unattached volumes. None on records stored before it was kept.
    state: str | None = None


# The members of DescribeVolumes' ``Volume`` this slice reads (``_resource``): its answers are parsed to these alone
# (``ServiceSlice.read_members``).
VOLUME_MEMBERS = frozenset({"VolumeId", "VolumeType", "Size", "State", "Attachments", "CreateTime"})


class EbsSlice(ServiceSlice[EbsUsage]):
    name = Service.EBS
    details_type = EbsUsage
    read_actions = ("ec2:DescribeVolumes",)
    providers = frozenset({"http"})
    main_part = "storage"
    data_files = ("storage-classes.csv",)
    embodied_not_modelled = "the methodology has no embodied figure for block storage drives"
    remembers_gone = True
    read_members = MappingProxyType({("ec2", "Volume"): VOLUME_MEMBERS})

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = clients.client("ec2", region).get_paginator("describe_volumes").paginate()
        return [_resource(region, volume) for page in pages for volume in page["Volumes"]]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        return []

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        details = EbsUsage(
            storage_gb=resource.attributes["size_gib"] * GB_PER_GIB,
            storage_type=resource.resource_type,
            state=resource.attributes.get("state"),
        )
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: EbsUsage, c: Coefficients) -> Parts:
        parts = Parts()
        known_type = (Service.EBS.value, usage.resource_type) in c.storage_classes
        volume_type = usage.resource_type if known_type else details.storage_type
        parts.storage = class_storage(c, parts, Service.EBS.value, volume_type, details.storage_gb, usage.hours)
        return parts


def _resource(region: str, volume: Mapping[str, Any]) -> Resource:
    return Resource(
        service=Service.EBS,
        region=region,
        resource_id=volume["VolumeId"],
        resource_type=volume["VolumeType"],
        attributes={
            "size_gib": volume["Size"],
            "state": volume.get("State"),
            "attached_to": tuple(attachment["InstanceId"] for attachment in volume.get("Attachments", [])),
        },
        created_at=volume.get("CreateTime"),
    )


SLICE = EbsSlice()
