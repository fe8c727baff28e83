"""The shape every service module has, and the context it is given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import Service, UsageRecord


@dataclass(frozen=True)
class Resource:
    """A resource found by a service's own describe/list APIs."""

    service: Service
    region: str
    resource_id: str
    resource_type: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


# Services report sizes in GiB; usage records hold decimal GB.
GB_PER_GIB = 1.073741824


@dataclass(frozen=True)
class HourContext:
    """Which connection-hour is being collected."""

    connection_id: str
    account_id: str
    hour: datetime


class ServiceCollector(Protocol):
    """One module per AWS service implements this (see ``services/ec2.py``)."""

    name: Service
    # IAM actions the customer role must allow for this service (discovery and metrics).
    read_actions: tuple[str, ...]

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        """Every resource of this service in ``region``, via the service's own APIs."""
        ...

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        """The CloudWatch metrics needed to describe ``resource`` during ``hour``."""
        ...

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        """Normalised usage records of ``resource`` for the hour."""
        ...


def usage_record(resource: Resource, context: HourContext, **usage: Any) -> UsageRecord:
    """A usage record of ``resource`` for the context's connection-hour."""
    return UsageRecord(
        connection_id=context.connection_id,
        account_id=context.account_id,
        hour=context.hour,
        region=resource.region,
        service=resource.service,
        resource_id=resource.resource_id,
        resource_type=resource.resource_type,
        **usage,
    )
