"""One region or service failing never blocks the rest, and what is missing is recorded and retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from carbonmeter.aws import ClientFactory
from carbonmeter.collect_step import IncompleteCollectionError, collect_connection_hour
from carbonmeter.models import GLOBAL_REGION, CollectJob, Connection, Service
from carbonmeter.scheduling import settled_end
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore, UsageStore
from devtools.aws.resources import create_resources
from devtools.seed import seed_demo_account

REGIONS = ("us-east-1", "eu-west-1")
# The latest hour the collector accepts now: ended, and past its settling delay.
HOUR = settled_end(datetime.now(UTC), Settings()) - timedelta(hours=1)


def refuse(service: str, operation: str, region: str | None, code: str, status: int = 403):
    """A hook failing every ``operation`` call to ``region`` (None: a global API's, whose URL names no region;
    not retried: the answer is final)."""

    def handler(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if model.name != operation or (region is not None and f".{region}." not in params.get("url", "")):
            return None
        return AWSResponse(params["url"], status, {}, None), {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    return (f"before-call.{service}.{operation}", handler)


@pytest.fixture
def account(aws):
    setup = ClientFactory(settings=Settings(region="us-east-1"))
    settings = create_resources(setup, setup.settings)
    demo = seed_demo_account(ClientFactory(settings=settings), REGIONS, [HOUR])
    ConnectionStore(setup, settings.connections_table).put(
        Connection(connection_id="acme", role_arn=demo.role_arn, external_id=demo.external_id, regions=REGIONS)
    )
    return settings, demo


def _run(settings: Settings, *hooks) -> Any:
    return collect_connection_hour(
        CollectJob(connection_id="acme", hour=HOUR), ClientFactory(settings=settings, hooks=hooks), settings
    )


def _stored(settings: Settings) -> dict[tuple[str, str], set[str]]:
    stored: dict[tuple[str, str], set[str]] = {}
    for record in UsageStore(ClientFactory(settings=settings), settings.usage_table).read_hour("acme", HOUR):
        stored.setdefault((record.region, str(record.service)), set()).add(record.resource_id)
    return stored


def _status(settings: Settings):
    return StatusStore(ClientFactory(settings=settings), settings.usage_table).get("acme", HOUR)


def test_a_failing_service_in_one_region_stores_the_rest_and_records_what_is_missing(account):
    settings, demo = account
    # When RDS refuses us in eu-west-1
    with pytest.raises(IncompleteCollectionError, match="eu-west-1/rds failed: AccessDenied"):
        _run(settings, refuse("rds", "DescribeDBInstances", "eu-west-1", "AccessDenied"))
    # Then every other region/service is stored
    stored = _stored(settings)
    assert ("eu-west-1", "rds") not in stored
    for region in REGIONS:
        for service in Service:
            if (region, service) != ("eu-west-1", Service.RDS) and demo.resources[region][service]:
                assert stored[(region, str(service))] == set(demo.resources[region][service])
    # And the status and the connection say what is missing
    status = _status(settings)
    assert not status.complete
    assert list(status.failed) == ["eu-west-1/rds"]
    assert "us-east-1/rds" in status.succeeded
    connection = ConnectionStore(ClientFactory(settings=settings), settings.connections_table).get("acme")
    assert "eu-west-1/rds failed" in (connection.last_error or "")


def test_the_retry_completes_the_hour_without_touching_what_was_stored(account):
    settings, demo = account
    with pytest.raises(IncompleteCollectionError):
        _run(settings, refuse("rds", "DescribeDBInstances", "eu-west-1", "AccessDenied"))
    # When the message is retried and RDS answers
    outcome = _run(settings)
    # Then the hour is complete, after two attempts, with the RDS records added
    status = _status(settings)
    assert status.complete
    assert status.attempts == 2
    assert outcome.status == status
    assert _stored(settings)[("eu-west-1", "rds")] == set(demo.resources["eu-west-1"][Service.RDS])


def test_a_scope_stored_earlier_keeps_its_records_when_a_later_attempt_fails(account):
    settings, _ = account
    _run(settings)
    before = _stored(settings)
    # When a re-collection of the hour fails for Lambda in us-east-1
    _run(settings, refuse("lambda", "ListFunctions", "us-east-1", "ThrottlingException", 400))
    # Then the earlier Lambda records are kept and the hour still counts as complete
    assert _stored(settings) == before
    assert _status(settings).complete


def test_a_metrics_failure_fails_only_the_services_that_need_metrics(account):
    settings, demo = account
    with pytest.raises(IncompleteCollectionError):
        _run(settings, refuse("cloudwatch", "GetMetricData", "us-east-1", "AccessDenied"))
    status = _status(settings)
    # EBS needs no metric: it is stored; the others failed in that region only, and CloudFront, whose metrics are
    # read in us-east-1, failed with them
    failed = ("apigateway", "dynamodb", "ec2", "ecs", "elasticache", "lambda", "rds", "redshift", "s3")
    assert sorted(status.failed) == ["global/cloudfront", *(f"us-east-1/{s}" for s in failed)]
    assert _stored(settings)[("us-east-1", "ebs")] == set(demo.resources["us-east-1"][Service.EBS])
    assert ("eu-west-1", "ec2") in _stored(settings)


def test_a_region_the_account_has_not_enabled_is_skipped_with_the_reason_not_retried(account):
    settings, _ = account
    # Given eu-west-1 answers every call as a region not opted into would
    hooks = [
        refuse("ec2", "DescribeInstances", "eu-west-1", "AuthFailure", 401),
        refuse("ec2", "DescribeVolumes", "eu-west-1", "AuthFailure", 401),
        refuse("s3", "ListBuckets", "eu-west-1", "InvalidClientTokenId", 403),
        refuse("rds", "DescribeDBInstances", "eu-west-1", "InvalidClientTokenId", 403),
        refuse("lambda", "ListFunctions", "eu-west-1", "UnrecognizedClientException", 403),
        refuse("elasticache", "DescribeCacheClusters", "eu-west-1", "InvalidClientTokenId", 403),
        # botocore's events name API Gateway's first client api-gateway
        refuse("api-gateway", "GetRestApis", "eu-west-1", "UnrecognizedClientException", 403),
        refuse("apigatewayv2", "GetApis", "eu-west-1", "UnrecognizedClientException", 403),
        refuse("dynamodb", "ListTables", "eu-west-1", "UnrecognizedClientException", 400),
        refuse("redshift", "DescribeClusters", "eu-west-1", "InvalidClientTokenId", 403),
        refuse("ecs", "ListClusters", "eu-west-1", "UnrecognizedClientException", 403),
        refuse("eks", "ListClusters", "eu-west-1", "UnrecognizedClientException", 403),
    ]
    # When the hour is collected, it completes (nothing to retry) and records the skipped region
    outcome = _run(settings, *hooks)
    status = outcome.status
    assert status is not None
    assert status.complete
    skipped = ("apigateway", "dynamodb", "ebs", "ec2", "ecs", "eks", "elasticache", "lambda", "rds", "redshift", "s3")
    assert sorted(status.skipped) == [f"eu-west-1/{s}" for s in skipped]
    assert all("region not enabled" in reason for reason in status.skipped.values())
    # And the global services, read in us-east-1 whatever regions the connection lists, are not touched
    assert {region for region, _ in _stored(settings)} == {"us-east-1", GLOBAL_REGION}
    assert "global/cloudfront" in status.succeeded


def test_a_failing_global_service_marks_the_hour_partial_like_a_failed_region(account):
    settings, demo = account
    # When CloudFront's API (global: one endpoint, signed for us-east-1) refuses us
    with pytest.raises(IncompleteCollectionError, match="global/cloudfront failed: AccessDenied"):
        _run(settings, refuse("cloudfront", "ListDistributions", None, "AccessDenied"))
    # Then every regional scope is stored, the global one is missing, and the hour is to be retried
    stored = _stored(settings)
    assert (GLOBAL_REGION, "cloudfront") not in stored
    for region in REGIONS:
        assert stored[(region, "ec2")] == set(demo.resources[region][Service.EC2])
    status = _status(settings)
    assert not status.complete
    assert list(status.failed) == ["global/cloudfront"]
    # And the retry completes it with each distribution once
    _run(settings)
    assert _status(settings).complete
    assert _stored(settings)[(GLOBAL_REGION, "cloudfront")] == set(demo.resources[GLOBAL_REGION][Service.CLOUDFRONT])
