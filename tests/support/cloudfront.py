"""CloudFront distributions and their traffic on the embedded AWS, as tests create them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3


def distribution_config(reference: str, price_class: str = "PriceClass_100", *, enabled: bool = True) -> dict[str, Any]:
    """The smallest DistributionConfig CloudFront accepts: one S3 origin, one cache behaviour."""
    return {
        "CallerReference": reference,
        "Comment": reference,
        "Enabled": enabled,
        "PriceClass": price_class,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": f"{reference}.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "allow-all",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
    }


def create_distribution(reference: str, price_class: str = "PriceClass_100", *, enabled: bool = True) -> str:
    """A distribution's id; CloudFront is global, so the client's region does not matter."""
    config = distribution_config(reference, price_class, enabled=enabled)
    return str(
        boto3.client("cloudfront", region_name="eu-west-1").create_distribution(DistributionConfig=config)[
            "Distribution"
        ]["Id"]
    )


def put_bytes(
    distribution_id: str, metric: str, hour: datetime, values: tuple[float, ...], region: str = "us-east-1"
) -> None:
    """``values`` of ``metric`` published within ``hour``, one a minute, where CloudFront publishes them."""
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/CloudFront",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "DistributionId", "Value": distribution_id},
                    {"Name": "Region", "Value": "Global"},
                ],
                "Timestamp": hour + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in enumerate(values)
        ],
    )
