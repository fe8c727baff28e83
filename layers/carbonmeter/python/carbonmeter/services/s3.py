"""S3: buckets located in the region, sized by their daily BucketSizeBytes metric.

One record per bucket and storage class (``StorageType`` dimension). The storage classes a
bucket holds are found with one paginated ListMetrics call per region, so no metric is
requested (and paid for) for a class the bucket does not use.

The metric is daily (one point stamped at midnight UTC), so the window runs from the
midnight before the hour's day to the midnight after it, aligned to the period so that
consecutive hours share one query, and the newest point wins. A bucket with no
BucketSizeBytes metric yet (new buckets wait up to a day, empty buckets publish none)
still gets one ``StandardStorage`` record of 0 GB: it is counted as a resource, but no
storage is invented for it.

The estimate is storage energy only, by the storage class's media and replication (``storage-classes.csv``);
the HTTP API covers S3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.parts import Parts, class_storage
from carbonmeter.models import Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

NAMESPACE = "AWS/S3"
METRIC = "BucketSizeBytes"
PERIOD = 86400
DAY = timedelta(days=1)
UNMEASURED_STORAGE_TYPE = "StandardStorage"
BYTES_PER_GB = 1e9


class S3Usage(ServiceUsage):
    """A bucket's storage class for an hour: the GB it held (the newest daily BucketSizeBytes) and the class."""

    service: Literal[Service.S3] = Service.S3
    storage_gb: float = 0.0
    storage_type: str | None = None


class S3Slice(ServiceSlice[S3Usage]):
    name = Service.S3
    details_type = S3Usage
    read_actions = ("s3:ListAllMyBuckets", "cloudwatch:ListMetrics")
    providers = frozenset({"http"})
    main_part = "storage"
    data_files = ("storage-classes.csv",)
    embodied_not_modelled = "the methodology has no embodied figure for object storage drives"
    remembers_gone = True

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        buckets = _buckets_in(clients.client("s3", region), region)
        storage_types = _storage_types(clients.client("cloudwatch", region), buckets)
        return [
            _resource(region, bucket, storage_type, measured=bucket in storage_types, created_at=created)
            for bucket, created in sorted(buckets.items())
            for storage_type in sorted(storage_types.get(bucket, {UNMEASURED_STORAGE_TYPE}))
        ]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        if not resource.attributes["measured"]:
            return []
        midnight = hour.replace(hour=0, minute=0, second=0, microsecond=0)
        # CloudWatch ignores dimension order; this is the order S3 publishes them in, which the
        # embedded AWS used in tests and local runs needs to match its own published metrics.
        dimensions = (("StorageType", resource.resource_type), ("BucketName", resource.resource_id))
        return [MetricRequest(NAMESPACE, METRIC, dimensions, "Average", PERIOD, midnight - DAY, midnight + DAY)]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        newest_first = [
            value for request in self.metric_requests(resource, context.hour) for value in metrics.get(request, ())
        ]
        size_bytes = newest_first[0] if newest_first else 0.0
        details = S3Usage(storage_gb=size_bytes / BYTES_PER_GB, storage_type=resource.resource_type)
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: S3Usage, c: Coefficients) -> Parts:
        parts = Parts()
        # The record's type is the storage class (StorageType dimension).
        parts.storage = class_storage(c, parts, Service.S3.value, usage.resource_type, details.storage_gb, usage.hours)
        return parts


def _buckets_in(s3: Any, region: str) -> dict[str, datetime | None]:
    """Each bucket of the region and its CreationDate."""
    # BucketRegion filters server-side, sparing a GetBucketLocation call per bucket.
    pages = s3.get_paginator("list_buckets").paginate(BucketRegion=region)
    return {bucket["Name"]: bucket.get("CreationDate") for page in pages for bucket in page.get("Buckets", [])}


def _storage_types(cloudwatch: Any, buckets: Mapping[str, datetime | None]) -> dict[str, set[str]]:
    found: defaultdict[str, set[str]] = defaultdict(set)
    pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace=NAMESPACE, MetricName=METRIC)
    for page in pages:
        for metric in page.get("Metrics", []):
            dimensions = {dimension["Name"]: dimension["Value"] for dimension in metric.get("Dimensions", [])}
            bucket, storage_type = dimensions.get("BucketName"), dimensions.get("StorageType")
            if bucket is not None and bucket in buckets and storage_type:
                found[bucket].add(storage_type)
    return dict(found)


def _resource(region: str, bucket: str, storage_type: str, *, measured: bool, created_at: datetime | None) -> Resource:
    return Resource(
        service=Service.S3,
        region=region,
        resource_id=bucket,
        resource_type=storage_type,
        attributes={"measured": measured},
        created_at=created_at,
    )


SLICE = S3Slice()
