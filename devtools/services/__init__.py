"""Each metered service's workbench part: its embedded-AWS recipe and its fault shapes, registered here, one line each.

The registry is keyed by the same ``Service`` member as the Lambda library's ``SLICES``;
``tests/unit/test_devtools_services.py`` requires the two to hold the same services. Seeding
(``devtools/seed.py``), the fault injector (``devtools/faults.py``) and the soak's fault plan
(``devtools/soak/fault_plan.py``) iterate it; ``docs/architecture.md`` ("Adding a service: the recipe") says
how to add one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from carbonmeter.models import Service
from devtools.services import (
    apigateway,
    cloudfront,
    dynamodb,
    ebs,
    ec2,
    ecs,
    eks,
    elasticache,
    lambda_,
    rds,
    redshift,
    s3,
)
from devtools.services.base import AccountSeeding, ClientFaults, RegionSeeding, ServiceDevtools

# Seeding runs the parts in this order, each drawing from the region's random stream in turn (EBS runs within
# EC2's step: ``attaches_to``). A new service goes at the end, so existing seeds keep their resources and values.
_REGISTERED: tuple[ServiceDevtools[Any], ...] = (
    ec2.DEVTOOLS,
    ebs.DEVTOOLS,
    s3.DEVTOOLS,
    rds.DEVTOOLS,
    lambda_.DEVTOOLS,
    elasticache.DEVTOOLS,
    apigateway.DEVTOOLS,
    dynamodb.DEVTOOLS,
    redshift.DEVTOOLS,
    ecs.DEVTOOLS,
    eks.DEVTOOLS,
    cloudfront.DEVTOOLS,
)

# APIs called whatever the service: the collector's AssumeRole and metric reads, and CarbonMeter's own tables
# and queues. CarbonMeter's tables speak the API of the customer's DynamoDB tables: one shape, DynamoDB's part's
# (a part may declare a common client only by this very shape).
COMMON_CLIENT_FAULTS: tuple[ClientFaults, ...] = (
    ClientFaults(
        "sts",
        throttling=("Throttling", 400),
        region_not_enabled=("InvalidClientTokenId", 403),
        soak_order=0,
        in_customer_regions=False,
    ),
    ClientFaults(
        "cloudwatch", throttling=("Throttling", 400), region_not_enabled=("InvalidClientTokenId", 403), soak_order=2
    ),
    dynamodb.DYNAMODB_API,
    ClientFaults(
        "sqs", throttling=("RequestThrottled", 400), region_not_enabled=None, soak_order=7, in_customer_regions=False
    ),
)


def _registry(parts: tuple[ServiceDevtools[Any], ...]) -> Mapping[Service, ServiceDevtools[Any]]:
    """The parts by service; a service registered twice fails at import (one missing fails the generic test)."""
    by_service: dict[Service, ServiceDevtools[Any]] = {}
    for part in parts:
        if part.service in by_service:
            raise TypeError(f"two devtools parts registered for {part.service}")
        by_service[part.service] = part
    return MappingProxyType(by_service)


def _client_faults(shapes: Iterable[ClientFaults]) -> tuple[ClientFaults, ...]:
    """Every client once, in ``soak_order``; services sharing an API (EC2, EBS, RDS, ...) must describe it alike."""
    by_client: dict[str, ClientFaults] = {}
    for shape in shapes:
        if by_client.setdefault(shape.client, shape) != shape:
            raise TypeError(f"two fault shapes for the {shape.client} client disagree")
    ordered = sorted(by_client.values(), key=lambda shape: shape.soak_order)
    orders = [shape.soak_order for shape in ordered]
    if len(set(orders)) != len(orders):
        raise TypeError(f"two clients share a soak_order: {orders}")
    return tuple(ordered)


DEVTOOLS_SERVICES: Mapping[Service, ServiceDevtools[Any]] = _registry(_REGISTERED)

CLIENT_FAULTS: tuple[ClientFaults, ...] = _client_faults(
    [*COMMON_CLIENT_FAULTS, *(shape for part in DEVTOOLS_SERVICES.values() for shape in part.clients)]
)

__all__ = [
    "CLIENT_FAULTS",
    "COMMON_CLIENT_FAULTS",
    "DEVTOOLS_SERVICES",
    "AccountSeeding",
    "ClientFaults",
    "RegionSeeding",
    "ServiceDevtools",
]
