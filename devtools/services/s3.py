"""S3 on the workbench: buckets holding several storage classes, and their daily BucketSizeBytes.

The bucket listing and the metrics' ListMetrics go through the S3 API and CloudWatch (a common client).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from carbonmeter.models import Service
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.metrics import MetricWriter

DAY = timedelta(days=1)
GB = 1e9

S3_API = ClientFaults(
    "s3",
    throttling=("SlowDown", 503),
    # S3 names the session token rather than the region.
    region_not_enabled=("InvalidToken", 400),
    soak_order=5,
)


@dataclass(frozen=True)
class BucketSpec:
    purpose: str
    # CloudWatch StorageType -> stored GB on the first day.
    storage_gb: Mapping[str, float]


class S3Devtools(ServiceDevtools[BucketSpec]):
    service = Service.S3
    clients = (S3_API,)
    demo_fleet = (
        BucketSpec("data", {"StandardStorage": 850, "StandardIAStorage": 2400, "GlacierStorage": 12000}),
        BucketSpec("logs", {"StandardStorage": 120, "OneZoneIAStorage": 300}),
        BucketSpec("assets", {"StandardStorage": 35}),
    )
    fleet_share = 0.15

    def create(self, seeding: RegionSeeding, specs: Sequence[BucketSpec]) -> None:
        # Each bucket is made, then its values drawn and its datums queued: interleaved, as seeds expect.
        for index, bucket in enumerate(specs):
            name = _create_bucket(seeding.client("s3"), seeding.region, index, bucket)
            seeding.resources[Service.S3].append(name)
            _put_bucket_metrics(seeding.metrics, name, bucket, seeding.hours, seeding.rng)


def _create_bucket(s3: Any, region: str, index: int, bucket: BucketSpec) -> str:
    name = f"demo-{bucket.purpose}-{region}-{index:05d}"
    params: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(**params)
    return name


def _put_bucket_metrics(
    metrics: MetricWriter, name: str, bucket: BucketSpec, hours: Sequence[datetime], rng: random.Random
) -> None:
    """One BucketSizeBytes datapoint per storage type and day, stamped 00:00 UTC as S3 reports them.

    Days run from the one before the first hour, so every hour has a value published before it.
    """
    if not hours:
        return
    first = hours[0].replace(hour=0) - DAY
    days = [first + DAY * n for n in range((hours[-1].replace(hour=0) - first) // DAY + 1)]
    growth = rng.uniform(0.0, 0.02)
    for storage_type, gb in bucket.storage_gb.items():
        size = gb * GB * rng.uniform(0.7, 1.3)
        # Moto, unlike CloudWatch, matches dimensions only in the order they were written; this is
        # the order its own S3 metrics use, and the one queries against the emulator must use.
        dimensions = [{"Name": "StorageType", "Value": storage_type}, {"Name": "BucketName", "Value": name}]
        for day_index, day in enumerate(days):
            value = round(size * (1 + growth) ** day_index)
            metrics.add(
                "AWS/S3",
                {
                    "MetricName": "BucketSizeBytes",
                    "Dimensions": dimensions,
                    "Timestamp": day,
                    "Value": value,
                    "Unit": "Bytes",
                },
            )


DEVTOOLS = S3Devtools()
