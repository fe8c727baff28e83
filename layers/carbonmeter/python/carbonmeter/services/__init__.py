"""The AWS services CarbonMeter meters: one slice per service, registered here, one line each.

Everything else about services derives from ``SLICES``: the collectors, the IAM read actions, the usage details
union (``UsageRecord.details``), the calculator's per-service parts and the providers' coverage.
``docs/architecture.md`` ("Adding a service: the recipe") gives the recipe for adding one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from carbonmeter.models import Service, ServiceUsage
from carbonmeter.services import cloudfront, ebs, ec2, elasticache, lambda_, rds, s3
from carbonmeter.services.base import HourContext, ProviderName, Resource, ServiceCollector, ServiceSlice

_REGISTERED: tuple[ServiceSlice[Any], ...] = (
    ec2.SLICE,
    ebs.SLICE,
    s3.SLICE,
    rds.SLICE,
    lambda_.SLICE,
    elasticache.SLICE,
    cloudfront.SLICE,
)


def _registry(slices: tuple[ServiceSlice[Any], ...]) -> Mapping[Service, ServiceSlice[Any]]:
    """The slices by service; every ``Service`` member must have exactly one, or this fails at import."""
    by_service: dict[Service, ServiceSlice[Any]] = {}
    for piece in slices:
        if piece.name in by_service:
            raise TypeError(f"two slices registered for {piece.name}")
        by_service[piece.name] = piece
    missing = set(Service) - set(by_service)
    if missing:
        raise TypeError(f"no slice registered for {', '.join(sorted(missing))}")
    return MappingProxyType(by_service)


SLICES: Mapping[Service, ServiceSlice[Any]] = _registry(_REGISTERED)

COLLECTORS: Mapping[Service, ServiceCollector] = SLICES

# Services collected in each region of a connection, and those collected once per connection-hour (``global``).
REGIONAL_SERVICES: tuple[Service, ...] = tuple(service for service, piece in SLICES.items() if not piece.is_global)
GLOBAL_SERVICES: tuple[Service, ...] = tuple(service for service, piece in SLICES.items() if piece.is_global)

DETAILS_TYPES: Mapping[Service, type[ServiceUsage]] = MappingProxyType(
    {service: piece.details_type for service, piece in SLICES.items()}
)

# Calls the collector makes whatever the service: metrics for every resource.
COMMON_READ_ACTIONS: tuple[str, ...] = ("cloudwatch:GetMetricData",)

# Calls made once per connection rather than per service: the regions of a connection collecting every enabled
# region (``carbonmeter.regions``; ec2:DescribeRegions is the fallback).
REGION_LOOKUP_ACTIONS: tuple[str, ...] = ("account:ListRegions", "ec2:DescribeRegions")

READ_ACTIONS: tuple[str, ...] = tuple(
    sorted(set(COMMON_READ_ACTIONS).union(REGION_LOOKUP_ACTIONS, *(piece.read_actions for piece in SLICES.values())))
)


def covered_by(provider: ProviderName) -> frozenset[Service]:
    """The services ``provider`` estimates itself (the others it leaves to the builtin methodology)."""
    return frozenset(service for service, piece in SLICES.items() if provider in piece.providers)


__all__ = [
    "COLLECTORS",
    "COMMON_READ_ACTIONS",
    "DETAILS_TYPES",
    "GLOBAL_SERVICES",
    "READ_ACTIONS",
    "REGIONAL_SERVICES",
    "REGION_LOOKUP_ACTIONS",
    "SLICES",
    "HourContext",
    "Resource",
    "ServiceCollector",
    "ServiceSlice",
    "covered_by",
]
