"""The AWS services CarbonMeter meters: one slice per service, registered here, one line each.

Everything else about services derives from ``SLICES``: the collectors, the IAM read actions, the usage details
union (``UsageRecord.details``), the calculator's per-service parts and the providers' coverage.
``docs/architecture.md`` ("Adding a service: the recipe") gives the recipe for adding one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from carbonmeter.emissions.flags import MEANINGS as SHARED_FLAG_MEANINGS
from carbonmeter.models import Service, ServiceUsage
from carbonmeter.services import (
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
from carbonmeter.services.base import HourContext, ProviderName, Resource, ServiceCollector, ServiceSlice

_REGISTERED: tuple[ServiceSlice[Any], ...] = (
    ec2.SLICE,
    ebs.SLICE,
    s3.SLICE,
    rds.SLICE,
    lambda_.SLICE,
    elasticache.SLICE,
    apigateway.SLICE,
    dynamodb.SLICE,
    redshift.SLICE,
    ecs.SLICE,
    eks.SLICE,
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

# Calls made once a day or month per connection by the insights (carbonmeter/insights/): the account's spend
# per service and region (costs.py), and AWS's own monthly carbon figures (reconciliation.py).
INSIGHT_READ_ACTIONS: tuple[str, ...] = ("ce:GetCostAndUsage", "sustainability:GetEstimatedCarbonEmissions")

READ_ACTIONS: tuple[str, ...] = tuple(
    sorted(
        set(COMMON_READ_ACTIONS).union(
            REGION_LOOKUP_ACTIONS, INSIGHT_READ_ACTIONS, *(piece.read_actions for piece in SLICES.values())
        )
    )
)


def _read_resources(slices: tuple[ServiceSlice[Any], ...]) -> Mapping[str, tuple[str, ...]]:
    """The read actions limited to some resources, with them: an action is limited only if every slice calling
    it limits it (one that needs it on "*" gets it on "*"), to the union of their patterns."""
    limited: dict[str, set[str]] = {}
    everywhere: set[str] = set(COMMON_READ_ACTIONS)
    for piece in slices:
        for action in piece.read_actions:
            if action in piece.read_resources:
                limited.setdefault(action, set()).update(piece.read_resources[action])
            else:
                everywhere.add(action)
    return MappingProxyType(
        {action: tuple(sorted(patterns)) for action, patterns in sorted(limited.items()) if action not in everywhere}
    )


# What the customer role and the session policy allow each of READ_ACTIONS on, where not "*".
READ_RESOURCES: Mapping[str, tuple[str, ...]] = _read_resources(_REGISTERED)


def _read_members(slices: tuple[ServiceSlice[Any], ...]) -> Mapping[tuple[str, str], frozenset[str]]:
    """Every slice's ``read_members``, joined per shape: a shape two slices read keeps what either reads."""
    joined: dict[tuple[str, str], frozenset[str]] = {}
    for piece in slices:
        for shape, members in piece.read_members.items():
            joined[shape] = joined.get(shape, frozenset()) | members
    return MappingProxyType(joined)


# The members of answer shapes collection reads, where a slice names them: a collection's customer sessions parse
# only these (``aws.assume_role``'s ``read_members``).
READ_MEMBERS: Mapping[tuple[str, str], frozenset[str]] = _read_members(_REGISTERED)


def _flag_meanings(slices: tuple[ServiceSlice[Any], ...]) -> Mapping[str, str]:
    meanings = dict(SHARED_FLAG_MEANINGS)
    for piece in slices:
        for flag, text in piece.flag_meanings.items():
            if flag in meanings:
                raise TypeError(f"flag {flag} is declared twice")
            meanings[flag] = text
    return MappingProxyType(meanings)


# Every flag a record can carry, shared or a slice's own, with its footnote meaning.
FLAG_MEANINGS: Mapping[str, str] = _flag_meanings(_REGISTERED)


def flag_meaning(flag: str) -> str:
    """The flag's meaning, or "" for a flag this release does not know (a newer provider's, say).

    Flags naming what was mapped to what (``microarchitecture_mapped:Ice Lake->Cascade Lake``) are looked up by
    the part before the first colon.
    """
    return FLAG_MEANINGS.get(flag.split(":", 1)[0], "")


def covered_by(provider: ProviderName) -> frozenset[Service]:
    """The services ``provider`` estimates itself (the others it leaves to the builtin methodology)."""
    return frozenset(service for service, piece in SLICES.items() if provider in piece.providers)


__all__ = [
    "COLLECTORS",
    "COMMON_READ_ACTIONS",
    "DETAILS_TYPES",
    "FLAG_MEANINGS",
    "GLOBAL_SERVICES",
    "INSIGHT_READ_ACTIONS",
    "READ_ACTIONS",
    "READ_MEMBERS",
    "READ_RESOURCES",
    "REGIONAL_SERVICES",
    "REGION_LOOKUP_ACTIONS",
    "SLICES",
    "HourContext",
    "Resource",
    "ServiceCollector",
    "ServiceSlice",
    "covered_by",
    "flag_meaning",
]
