"""S3 collection on the embedded AWS: buckets of the region, their storage classes and sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.services import HourContext, s3

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
MIDNIGHT = HOUR.replace(hour=0)
OTHER_REGION = {"us-east-1": "eu-west-1", "eu-west-1": "us-east-1", "ap-southeast-2": "us-east-1"}


def create_bucket(region: str, name: str, **params: Any) -> None:
    client = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        client.create_bucket(Bucket=name, **params)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}, **params)


def put_size(region: str, bucket: str, storage_type: str, points: dict[datetime, float]) -> None:
    """Daily BucketSizeBytes points, dimensions in the order S3 publishes them."""
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "BucketSizeBytes",
                "Dimensions": [{"Name": "StorageType", "Value": storage_type}, {"Name": "BucketName", "Value": bucket}],
                "Timestamp": timestamp,
                "Value": value,
                "Unit": "Bytes",
            }
            for timestamp, value in points.items()
        ],
    )


def test_discovers_only_the_buckets_of_the_region_and_their_storage_classes(clients: ClientFactory, region: str):
    # Given two buckets here (one untagged, one with an Infrequent Access class too) and one elsewhere
    create_bucket(region, "here-plain")
    create_bucket(region, "here-mixed")
    boto3.client("s3", region_name=region).put_bucket_tagging(
        Bucket="here-mixed", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]}
    )
    create_bucket(OTHER_REGION[region], "elsewhere")
    put_size(region, "here-mixed", "StandardIAStorage", {MIDNIGHT: 1e9})

    # When S3 is discovered in this region
    resources = s3.SLICE.discover(clients, region)

    # Then each bucket of this region appears once per storage class it holds
    assert sorted((r.resource_id, r.resource_type) for r in resources) == [
        ("here-mixed", "StandardIAStorage"),
        ("here-mixed", "StandardStorage"),
        ("here-plain", "StandardStorage"),
    ]


def test_requests_the_daily_size_from_the_midnight_before_to_the_midnight_after(clients: ClientFactory):
    create_bucket("eu-west-1", "app-logs")
    (resource,) = s3.SLICE.discover(clients, "eu-west-1")

    requests = s3.SLICE.metric_requests(resource, HOUR)

    # Aligned to the daily period, so every hour of a day asks the same query (and pays once).
    midnight = HOUR.replace(hour=0)
    assert s3.SLICE.metric_requests(resource, HOUR.replace(hour=23)) == requests
    assert requests == [
        MetricRequest(
            "AWS/S3",
            "BucketSizeBytes",
            (("StorageType", "StandardStorage"), ("BucketName", "app-logs")),
            "Average",
            86400,
            midnight - timedelta(days=1),
            midnight + timedelta(days=1),
        )
    ]


def test_records_the_newest_daily_size_per_storage_class(collect, counter: ApiCallCounter):
    # Given a bucket measured on the two previous midnights, and a second class measured once
    create_bucket("eu-west-1", "archive")
    put_size("eu-west-1", "archive", "StandardStorage", {MIDNIGHT - timedelta(days=1): 4e9, MIDNIGHT: 5e9})
    put_size("eu-west-1", "archive", "GlacierStorage", {MIDNIGHT - timedelta(days=1): 2.5e12})

    # When the hour is collected
    records = collect(s3.SLICE, "eu-west-1", HOUR)

    # Then each class reports its latest size in GB, and only the existing classes were paid for
    assert [(r.resource_id, r.resource_type, r.details.storage_type, r.details.storage_gb) for r in records] == [
        ("archive", "GlacierStorage", "GlacierStorage", 2500.0),
        ("archive", "StandardStorage", "StandardStorage", 5.0),
    ]
    assert counter.metrics_requested == 2
    assert counter.calls["monitoring:ListMetrics"] == 1


def test_a_bucket_without_a_size_metric_yet_counts_with_zero_storage(aws: None, settings, counter: ApiCallCounter):
    # Given a brand-new bucket that CloudWatch has not published a size for
    def hide_new_bucket(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Metrics"] = [
            metric for metric in parsed["Metrics"] if {"Name": "BucketName", "Value": "new"} not in metric["Dimensions"]
        ]

    clients = ClientFactory(
        boto3.Session(),
        settings=settings,
        counter=counter,
        hooks=[("after-call.cloudwatch.ListMetrics", hide_new_bucket)],
    )
    create_bucket("eu-west-1", "new")

    # When the hour is collected
    (resource,) = s3.SLICE.discover(clients, "eu-west-1")
    (record,) = s3.SLICE.usage(resource, {}, _context())

    # Then it is listed as a resource with no storage, and no metric is bought for it
    assert (record.resource_id, record.resource_type, record.details.storage_gb) == ("new", "StandardStorage", 0.0)
    assert s3.SLICE.metric_requests(resource, HOUR) == []


def test_finds_the_sizes_the_embedded_s3_publishes_itself(collect):
    # Given a bucket with objects, whose size the embedded AWS publishes at today's midnight
    # (a size of its own making: it measures Python objects, not bytes stored)
    create_bucket("us-east-1", "photos")
    boto3.client("s3", region_name="us-east-1").put_object(Bucket="photos", Key="a.jpg", Body=b"x" * 1500)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    published = boto3.client("cloudwatch", region_name="us-east-1").get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="BucketSizeBytes",
        Dimensions=[{"Name": "BucketName", "Value": "photos"}, {"Name": "StorageType", "Value": "StandardStorage"}],
        StartTime=today,
        EndTime=today + timedelta(days=1),
        Period=86400,
        Statistics=["Average"],
    )["Datapoints"]

    # When today's first hour is collected
    (record,) = collect(s3.SLICE, "us-east-1", today)

    # Then the record carries that published size (the request matched S3's own dimensions)
    assert [point["Average"] for point in published] == [pytest.approx(record.details.storage_gb * 1e9)]
    assert record.details.storage_gb > 0


def _context() -> HourContext:
    return HourContext(connection_id="acme-prod", account_id="123456789012", hour=HOUR)
