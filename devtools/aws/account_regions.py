"""Regions an embedded account has enabled, answered as AWS answers them.

moto implements neither account:ListRegions nor account:EnableRegion, and its ec2:DescribeRegions lists
every region of every partition, opted in or not, where AWS lists only the regions the account can use
(unless ``AllRegions`` is asked). CarbonMeter reads the enabled regions of a connection registered with
``--regions all`` through those two APIs, so the embedded AWS answers them from one state per account:
the regions every account has (moto's ``opt-in-not-required``) plus the opt-in regions enabled through
EnableRegion, kept on moto's account backend so that a reset forgets them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.account import urls as account_urls
from moto.account.models import account_backends
from moto.account.responses import AccountResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models.availability_zones_and_regions import Region, RegionsAndZonesBackend
from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions

_PATHS = ("{0}/listRegions$", "{0}/enableRegion$", "{0}/getRegionOptStatus$")
_DEFAULT = "opt-in-not-required"
_STATE = "carbonmeter_opted_in_regions"


@contextmanager
def account_regions() -> Iterator[None]:
    """Answer ListRegions, EnableRegion, GetRegionOptStatus and DescribeRegions from the account's enabled regions."""
    added = {path: AccountResponse.dispatch for path in _PATHS if path not in account_urls.url_paths}
    account_urls.url_paths.update(added)
    methods = {"list_regions": _list_regions, "enable_region": _enable_region, "get_region_opt_status": _opt_status}
    for name, method in methods.items():
        setattr(AccountResponse, name, method)
    original_describe = AvailabilityZonesAndRegions.__dict__["describe_regions"]
    AvailabilityZonesAndRegions.describe_regions = _describe_regions  # type: ignore[method-assign]
    try:
        yield
    finally:
        AvailabilityZonesAndRegions.describe_regions = original_describe  # type: ignore[method-assign]
        for name in methods:
            delattr(AccountResponse, name)
        for path in added:
            del account_urls.url_paths[path]


def region_statuses(account_id: str) -> dict[str, str]:
    """Each region of the account's partition with its ListRegions status."""
    enabled = _opted_in(account_id)
    return {
        region.name: "ENABLED_BY_DEFAULT"
        if region.opt_in_status == _DEFAULT
        else ("ENABLED" if region.name in enabled else "DISABLED")
        for region in _partition_regions()
    }


def _partition_regions() -> list[Region]:
    # moto lists the China and GovCloud regions too; an account of the aws partition sees none of them.
    names = set(boto3.Session().get_available_regions("ec2"))
    return [region for region in RegionsAndZonesBackend.regions if region.name in names]


def _opted_in(account_id: str) -> set[str]:
    # Kept on moto's own backend, which a reset rebuilds, so no enabled region outlives the account.
    backend = vars(account_backends[account_id]["aws"])
    opted_in: set[str] = backend.setdefault(_STATE, set())
    return opted_in


def _list_regions(self: AccountResponse) -> ActionResult:
    wanted = set(self._get_param("RegionOptStatusContains") or ())
    regions = [
        {"RegionName": name, "RegionOptStatus": status}
        for name, status in sorted(region_statuses(self.current_account).items())
        if not wanted or status in wanted
    ]
    return ActionResult(result={"Regions": regions})


def _enable_region(self: AccountResponse) -> EmptyResult:
    name = self._get_param("RegionName")
    if region_statuses(self.current_account).get(name) == "DISABLED":
        _opted_in(self.current_account).add(name)
    return EmptyResult()


def _opt_status(self: AccountResponse) -> ActionResult:
    name = self._get_param("RegionName")
    return ActionResult(result={"RegionName": name, "RegionOptStatus": region_statuses(self.current_account)[name]})


def _describe_regions(self: AvailabilityZonesAndRegions) -> Any:
    self.error_on_dryrun()
    names = set(self._get_param("RegionNames", []) or ())
    every = str(self._get_param("AllRegions", "false")).lower() == "true"
    enabled = _opted_in(self.current_account)
    regions = [
        Region(region.name, region.endpoint, "opted-in") if region.name in enabled else region
        for region in _partition_regions()
        if (not names or region.name in names) and (every or region.opt_in_status == _DEFAULT or region.name in enabled)
    ]
    return ActionResult({"Regions": regions})
