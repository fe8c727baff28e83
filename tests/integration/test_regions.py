"""Connections of every enabled region: which regions the embedded account answers, and what collection does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from carbonmeter.aws import ClientFactory, EventHook
from carbonmeter.collection import collect
from carbonmeter.models import ALL_REGIONS, GLOBAL_REGION, Service
from carbonmeter.regions import RegionDiscoveryError, enabled_regions
from carbonmeter.services import GLOBAL_SERVICES, REGIONAL_SERVICES
from devtools.aws import lifetimes
from devtools.aws.server import embedded_aws
from tests.support.aws_hooks import refuse_when
from tests.support.connections import connection_for

# An opt-in region (AWS: "not enabled by default"), and some every account has.
OPT_IN = "me-central-1"
DEFAULTS = {"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"}
HOUR = datetime(2026, 11, 30, 10, tzinfo=UTC)

LIST_REGIONS_DENIED = refuse_when("before-call.account.ListRegions", "", "AccessDeniedException", "denied", 403)
DESCRIBE_REGIONS_DENIED = refuse_when("before-call.ec2.DescribeRegions", "", "UnauthorizedOperation", "denied", 403)


@pytest.fixture
def account() -> Iterator[None]:
    with embedded_aws():
        yield


def _clients(*hooks: EventHook) -> ClientFactory:
    return ClientFactory(boto3.Session(), hooks=hooks)


@pytest.mark.usefixtures("account")
def test_the_embedded_account_answers_as_aws_does_which_regions_it_may_use():
    # The point patched in the embedded AWS: moto lists every region of every partition as usable.
    ec2 = boto3.client("ec2")
    usable = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    every = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    assert usable >= DEFAULTS
    assert OPT_IN not in usable
    assert every[OPT_IN] == "not-opted-in"
    assert not any(name.startswith(("us-gov-", "cn-")) for name in every)
    listed = boto3.client("account").list_regions()["Regions"]
    assert {r["RegionName"] for r in listed if r["RegionOptStatus"] != "DISABLED"} == usable


@pytest.mark.usefixtures("account")
def test_a_region_enabled_later_is_listed_from_then_on():
    # Given an account that has not enabled an opt-in region
    before = enabled_regions(_clients())
    assert set(before) >= DEFAULTS
    assert OPT_IN not in before
    # When the customer enables it
    boto3.client("account").enable_region(RegionName=OPT_IN)
    # Then the next lookup lists it, and DescribeRegions agrees
    after = enabled_regions(_clients())
    assert set(after) == set(before) | {OPT_IN}
    assert after == tuple(sorted(after))
    assert set(enabled_regions(_clients(LIST_REGIONS_DENIED))) == set(after)


@pytest.mark.usefixtures("account")
def test_a_role_without_list_regions_falls_back_to_describe_regions():
    # Given a customer role deployed before it granted account:ListRegions
    clients = _clients(LIST_REGIONS_DENIED)
    # When the enabled regions are looked up
    regions = enabled_regions(clients)
    # Then EC2's answer is used, with one call
    assert set(regions) == set(enabled_regions(_clients()))
    assert clients.counter.calls["ec2:DescribeRegions"] == 1


@pytest.mark.usefixtures("account")
def test_when_neither_api_answers_every_scope_of_the_hour_fails_with_both_reasons():
    clients = _clients(LIST_REGIONS_DENIED, DESCRIBE_REGIONS_DENIED)
    with pytest.raises(RegionDiscoveryError, match=r"AccessDeniedException.*UnauthorizedOperation"):
        enabled_regions(clients)
    # And a collection of the connection records every service as failed, to be retried, rather than nothing
    connection = connection_for(ALL_REGIONS)
    result = collect(clients, connection, [HOUR], workers=4)
    # (the global services included: nothing of the connection is collected)
    assert set(result.failed) == {f"{ALL_REGIONS}/{service}" for service in REGIONAL_SERVICES} | {
        f"{GLOBAL_REGION}/{service}" for service in GLOBAL_SERVICES
    }
    assert "UnauthorizedOperation" in result.failed[f"{ALL_REGIONS}/{Service.EC2}"]
    assert result.records == []
    assert result.succeeded == []


@pytest.mark.usefixtures("account")
def test_collecting_every_enabled_region_covers_each_of_them_and_no_other():
    # Given volumes in two default regions and in the opt-in region, not yet enabled
    for region in ("eu-west-1", "sa-east-1", OPT_IN):
        boto3.client("ec2", region).create_volume(AvailabilityZone=f"{region}a", Size=100, VolumeType="gp3")
        # made a day before the hour collected (the embedded AWS stamps them with the time of the test)
        lifetimes.backdate(region, HOUR - timedelta(days=1))
    connection = connection_for(ALL_REGIONS).model_copy(update={"services": (Service.EBS,)})
    # When the connection is collected
    result = collect(_clients(), connection, [HOUR], workers=4)
    # Then every enabled region was collected, and the volumes of the enabled ones are metered
    assert set(result.succeeded) == {f"{region}/ebs" for region in enabled_regions(_clients())}
    assert {r.region for r in result.records} == {"eu-west-1", "sa-east-1"}
