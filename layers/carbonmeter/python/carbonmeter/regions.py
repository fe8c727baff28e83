"""Which regions a connection's collection covers: the ones it names, or every region the account has enabled.

A connection registered with ``regions=("all",)`` is resolved at each collection, so a region the customer
enables later is collected from its next hour on without editing the connection. The account's own answer
(account:ListRegions) comes first; ec2:DescribeRegions, which lists only the regions an account may use unless
asked for all, is the fallback for a role whose policy predates ListRegions or an account API that refuses.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection

# Opt-in regions once enabled say ENABLED; the ones every account has say ENABLED_BY_DEFAULT.
_ENABLED_STATUSES = ("ENABLED", "ENABLED_BY_DEFAULT")


class RegionDiscoveryError(RuntimeError):
    """Neither account:ListRegions nor ec2:DescribeRegions said which regions the account has enabled."""


def collection_regions(clients: ClientFactory, connection: Connection) -> tuple[str, ...]:
    """The regions to collect for ``connection`` now, sorted; ``clients`` carry the customer's credentials."""
    if not connection.all_regions:
        return connection.regions
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
