"""Regions: the names users type, checked before anything is collected, and the regions a collection covers.

A misspelt region would otherwise fail deep inside botocore (no endpoint) or, worse, be stored in a connection
and fail every hour. The CLI, the workbench and (later) the HTTP API share this one check.

A connection registered with ``regions=("all",)`` is resolved at each collection, so a region the customer
enables later is collected from its next hour on without editing the connection. The account's own answer
(account:ListRegions) comes first; ec2:DescribeRegions, which lists only the regions an account may use unless
asked for all, is the fallback for a role whose policy predates ListRegions or an account API that refuses.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence
from typing import Protocol

import botocore.session
from botocore.exceptions import ClientError

from carbonmeter.aws import ClientFactory
from carbonmeter.models import ALL_REGIONS

# The partitions whose regions a connection may name (China and GovCloud have their own).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


class UnknownRegionError(ValueError):
    """A region name botocore does not know, with the closest known ones."""


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data lists for EC2 (which is in every region), in every partition."""
    session = botocore.session.get_session()
    return frozenset(
        region for partition in PARTITIONS for region in session.get_available_regions("ec2", partition_name=partition)
    )


def parse_regions(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as region names, in order and without repeats, or ``ALL_REGIONS`` alone; raise
    ``UnknownRegionError`` naming the unknown.

    Region names are lower case; an upper-case one (``US-EAST-1``) is taken as the same region.
    """
    regions = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    if not regions:
        raise UnknownRegionError("no region given")
    if ALL_REGIONS in regions:
        if len(regions) > 1:
            raise UnknownRegionError(f"{ALL_REGIONS!r} means every enabled region: give it alone")
        return regions
    known = known_regions()
    unknown = [region for region in regions if region not in known]
    if unknown:
        named = ", ".join(_with_suggestion(region, known) for region in unknown)
        raise UnknownRegionError(f"unknown region(s): {named}")
    return regions


# Letters typed for the digit that ends every region name.
_LOOKALIKE_DIGITS = str.maketrans({"l": "1", "i": "1", "o": "0", "z": "2", "s": "5"})


def _with_suggestion(region: str, known: frozenset[str]) -> str:
    closest = _closest(region, known)
    return f"{region} (did you mean {closest}?)" if closest else region


def _closest(region: str, known: frozenset[str]) -> str | None:
    stem, _, last = region.rpartition("-")
    lookalike = f"{stem}-{last.translate(_LOOKALIKE_DIGITS)}"
    if lookalike in known:
        return lookalike
    scored = [(difflib.SequenceMatcher(None, region, name).ratio(), name) for name in known]
    # Ties (us-east-1 and us-east-2 are as close to us-east-x) go to the first in order.
    score, name = min(((-ratio, name) for ratio, name in scored), default=(0.0, ""))
    return name if -score >= 0.6 else None


# Opt-in regions once enabled say ENABLED; the ones every account has say ENABLED_BY_DEFAULT.
_ENABLED_STATUSES = ("ENABLED", "ENABLED_BY_DEFAULT")


class RegionDiscoveryError(RuntimeError):
    """Neither account:ListRegions nor ec2:DescribeRegions said which regions the account has enabled."""


class _HasRegions(Protocol):
    @property
    def regions(self) -> Sequence[str]: ...


def collection_regions(clients: ClientFactory, target: _HasRegions) -> tuple[str, ...]:
    """The regions to collect for ``target`` now; ``clients`` carry the customer's credentials."""
    if tuple(target.regions) != (ALL_REGIONS,):
        return tuple(target.regions)
    return enabled_regions(clients)


def enabled_regions(clients: ClientFactory) -> tuple[str, ...]:
    """Every region the account of ``clients`` has enabled, sorted."""
    try:
        return _listed_by_account(clients)
    except ClientError as account_error:
        try:
            return _described_by_ec2(clients)
        except ClientError as ec2_error:
            raise RegionDiscoveryError(
                "could not list the account's enabled regions: "
                f"account:ListRegions said {_code(account_error)}, ec2:DescribeRegions said {_code(ec2_error)}"
            ) from ec2_error


def _listed_by_account(clients: ClientFactory) -> tuple[str, ...]:
    pages = (
        clients.client("account")
        .get_paginator("list_regions")
        .paginate(RegionOptStatusContains=list(_ENABLED_STATUSES))
    )
    return tuple(sorted(region["RegionName"] for page in pages for region in page.get("Regions", [])))


def _described_by_ec2(clients: ClientFactory) -> tuple[str, ...]:
    # Without AllRegions, DescribeRegions answers only the regions the account can use.
    answer = clients.client("ec2").describe_regions(AllRegions=False)
    return tuple(sorted(region["RegionName"] for region in answer.get("Regions", [])))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "an error"))
