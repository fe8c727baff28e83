"""CloudFront collection on the embedded AWS: distributions, found once per connection-hour, and their bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carbonmeter import collection
from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import estimate
from carbonmeter.models import GLOBAL_REGION, HOUR, Service
from carbonmeter.services import cloudfront
from carbonmeter.services.base import GLOBAL_API_REGION
from carbonmeter.settings import Settings
from devtools.aws.pipeline import lambda_environment
from tests.support.cloudfront import create_distribution, put_bytes
from tests.support.connections import connection_for

START = datetime(2024, 5, 1, 10, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def test_discovers_every_distribution_of_the_account_as_global(clients: ClientFactory):
    site = create_distribution("site", "PriceClass_100")
    media = create_distribution("media", "PriceClass_All", enabled=False)

    resources = {r.resource_id: r for r in cloudfront.SLICE.discover(clients, GLOBAL_API_REGION)}

    assert set(resources) == {site, media}
    assert {r.region for r in resources.values()} == {GLOBAL_REGION}
    assert {r.resource_type for r in resources.values()} == {"distribution"}
    assert resources[site].attributes["price_class"] == "PriceClass_100"
    assert resources[media].attributes["enabled"] is False


def test_an_account_without_distributions_has_none(clients: ClientFactory):
    assert cloudfront.SLICE.discover(clients, GLOBAL_API_REGION) == []


def test_asks_for_the_hour_of_bytes_under_the_global_dimension(clients: ClientFactory):
    site = create_distribution("site")
    (resource,) = cloudfront.SLICE.discover(clients, GLOBAL_API_REGION)

    requests = cloudfront.SLICE.metric_requests(resource, START)

    dimensions = (("DistributionId", site), ("Region", "Global"))
    assert requests == [
        MetricRequest("AWS/CloudFront", name, dimensions, "Sum", 3600, START, START + HOUR)
        for name in ("BytesDownloaded", "BytesUploaded")
    ]


def test_usage_sums_the_hour_of_bytes_read_in_us_east_1(clients: ClientFactory, collect):
    # Given a distribution's minute datapoints in us-east-1, and the same series in another region
    site = create_distribution("site")
    idle = create_distribution("idle")
    put_bytes(site, "BytesDownloaded", START, (2e9, 3e9, 5e9))
    put_bytes(site, "BytesUploaded", START, (1e6, 4e6))
    put_bytes(site, "BytesDownloaded", START, (7e12,), region="eu-west-1")
    put_bytes(site, "BytesDownloaded", START + HOUR, (9e12,))  # the next hour

    # When the hour is collected in the global pseudo-region
    records = {r.resource_id: r for r in collect(cloudfront.SLICE, GLOBAL_REGION, START)}

    # Then the record holds the hour's sums from us-east-1 only (where CloudFront publishes), and an idle
    # distribution is metered at zero rather than left out
    assert records[site].region == GLOBAL_REGION
    assert records[site].details.bytes_downloaded == 10e9
    assert records[site].details.bytes_uploaded == 5e6
    assert records[site].network_out_bytes == 0  # its bytes are its own network part, not the shared one
    assert (records[idle].details.bytes_downloaded, records[idle].details.bytes_uploaded) == (0, 0)
    # And the calculator turns it into edge-and-network energy at the world grid factor
    emission = estimate(records[site])
    assert emission.network_kwh == pytest.approx(10.005 * 0.059)
    assert emission.grid_kgco2e_per_kwh == 0.494
    assert "grid_factor_world_average" in emission.flags


def test_a_connection_listing_three_regions_gets_each_distribution_once(
    clients: ClientFactory, counter: ApiCallCounter
):
    # Given two distributions and a connection of three regions
    ids = {create_distribution("site"), create_distribution("api")}
    for distribution in ids:
        put_bytes(distribution, "BytesDownloaded", START, (1e9,))

    # When the connection's hour is collected
    result = collection.collect(clients, connection_for(*REGIONS), [START], workers=3)

    # Then each distribution has exactly one record, in ``global``, under one scope of its own
    records = [r for r in result.records if r.service == Service.CLOUDFRONT]
    assert sorted(r.resource_id for r in records) == sorted(ids)
    assert {r.region for r in records} == {GLOBAL_REGION}
    assert f"{GLOBAL_REGION}/cloudfront" in result.succeeded
    assert not any(scope.endswith("/cloudfront") for scope in result.succeeded if scope != "global/cloudfront")
    # And CloudFront was listed once, not once per region (the seeding above went through another client)
    assert counter.calls["cloudfront:ListDistributions"] == 1


def test_a_connection_of_cloudfront_only_collects_the_global_area_alone(clients: ClientFactory):
    distribution = create_distribution("site")
    connection = connection_for("eu-west-1").model_copy(update={"services": (Service.CLOUDFRONT,)})

    result = collection.collect(clients, connection, [START], workers=4)

    assert collection.areas(connection) == {GLOBAL_REGION: (cloudfront.SLICE,)}
    assert result.succeeded == ["global/cloudfront"]
    assert [r.resource_id for r in result.records] == [distribution]


def test_the_local_pipeline_gives_the_handlers_the_deployments_choice_as_the_stack_does():
    # The stack sets CARBONMETER_CLOUDFRONT_KWH_PER_GB on the calculator from -c cloudfrontKwhPerGb; the local
    # pipeline sets it from its settings, and leaves it unset (the default) when they do not choose
    with lambda_environment(Settings(cloudfront_kwh_per_gb=0.03)):
        assert Settings.from_env().cloudfront_kwh_per_gb == 0.03
    with lambda_environment(Settings()):
        assert Settings.from_env().cloudfront_kwh_per_gb is None
