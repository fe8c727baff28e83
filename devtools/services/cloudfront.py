"""CloudFront on the workbench: web distributions (a site, an API, a media library) and the bytes they serve.

CloudFront is global: its part is seeded once per account, in the pseudo-region ``global`` (the slice's
``is_global``), whose API and CloudWatch calls go to us-east-1. Its metrics are published there every minute,
under ``DistributionId`` and ``Region=Global``, so each hourly datum is the Sum of 60 samples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.cloudfront import METRIC_REGION, NAMESPACE
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.metrics import MetricWriter, Profile, total_datum

SAMPLES_PER_HOUR = 60  # CloudFront publishes its request and byte metrics every minute
BYTES_PER_GB = 1e9

# CloudFront's API is global (signed for us-east-1) and never refuses a region; it throttles as "Throttling".
CLOUDFRONT_API = ClientFaults("cloudfront", throttling=("Throttling", 400), region_not_enabled=None, soak_order=12)


@dataclass(frozen=True)
class DistributionSpec:
    """One distribution: what it fronts, its price class, and its traffic at the busiest hour."""

    purpose: str
    price_class: str
    peak_gb_per_hour: float
    # Viewers' uploads (POST/PUT) as a share of downloads: tiny for a site, more for an API.
    upload_share: float


class CloudFrontDevtools(ServiceDevtools[DistributionSpec]):
    service = Service.CLOUDFRONT
    clients = (CLOUDFRONT_API,)
    demo_fleet = (
        # About 300 GB a day in all: a small company's site, its API and the media library behind its app.
        DistributionSpec("site", "PriceClass_100", peak_gb_per_hour=2.0, upload_share=0.005),
        DistributionSpec("api", "PriceClass_All", peak_gb_per_hour=0.5, upload_share=0.2),
        DistributionSpec("media", "PriceClass_All", peak_gb_per_hour=20.0, upload_share=0.001),
    )
    fleet_share = 0.03

    def create(self, seeding: RegionSeeding, specs: Sequence[DistributionSpec]) -> None:
        # Each distribution draws its profile, then its metrics, as ElastiCache's clusters do.
        cloudfront = seeding.client("cloudfront")
        for index, spec in enumerate(specs):
            distribution_id = _create_distribution(cloudfront, index, spec)
            seeding.resources[Service.CLOUDFRONT].append(distribution_id)
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            _put_traffic(seeding.metrics, distribution_id, spec, profile, seeding.hours, seeding.rng)


def _create_distribution(cloudfront: Any, index: int, spec: DistributionSpec) -> str:
    reference = f"demo-{spec.purpose}-{index:05d}"
    origin = f"{reference}.s3.amazonaws.com"
    config = {
        "CallerReference": reference,
        "Comment": reference,
        "Enabled": True,
        "PriceClass": spec.price_class,
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "origin", "DomainName": origin, "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
    }
    try:
        return str(cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"])
    except cloudfront.exceptions.DistributionAlreadyExists:
        # Seeded before: the caller reference names it (CloudFront keeps it in the config, moto in the comment too).
        return next(
            str(item["Id"])
            for page in cloudfront.get_paginator("list_distributions").paginate()
            for item in page["DistributionList"].get("Items", [])
            if item.get("Comment") == reference
        )


def _put_traffic(
    metrics: MetricWriter,
    distribution_id: str,
    spec: DistributionSpec,
    profile: Profile,
    hours: Sequence[datetime],
    rng: random.Random,
) -> None:
    dimensions = [{"Name": "DistributionId", "Value": distribution_id}, {"Name": "Region", "Value": METRIC_REGION}]
    for hour in hours:
        # Traffic follows the viewers' day: a tenth of the peak at night, the peak at the busiest hour.
        downloaded = spec.peak_gb_per_hour * BYTES_PER_GB * (0.1 + 0.9 * profile.load(hour)) * rng.uniform(0.8, 1.2)
        uploaded = downloaded * spec.upload_share * rng.uniform(0.5, 1.5)
        for name, total in (("BytesDownloaded", downloaded), ("BytesUploaded", uploaded)):
            metrics.add(NAMESPACE, total_datum(name, dimensions, hour, total, SAMPLES_PER_HOUR, "None"))


DEVTOOLS = CloudFrontDevtools()
