"""EBS: every volume in the region, attached or not, sized from DescribeVolumes.

Provisioned size is what the storage holds during the hour, so no metric is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import Service, UsageRecord
from carbonmeter.services.base import GB_PER_GIB, HourContext, Resource, usage_record


class EbsCollector:
    name: Service = Service.EBS
    read_actions: tuple[str, ...] = ("ec2:DescribeVolumes",)

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
        return [
            usage_record(
                resource,
                context,
                storage_gb=resource.attributes["size_gib"] * GB_PER_GIB,
                storage_type=resource.resource_type,
            )
        ]


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
    )


COLLECTOR = EbsCollector()
