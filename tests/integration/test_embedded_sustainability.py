"""The embedded AWS's stand-in for the Sustainability API: botocore's own client reads it, paged, as it reads AWS."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from carbonmeter.insights.reconciliation import fetch_aws_month
from devtools.aws.server import embedded_aws
from devtools.aws.sustainability import stand_in


@pytest.fixture(scope="module")
def sustainability():
    with embedded_aws() as endpoint:
        yield boto3.client("sustainability", region_name="us-east-1", endpoint_url=endpoint)


def test_pages_hold_every_line_of_the_month_and_say_so_in_their_model_version(sustainability) -> None:
    paginator = sustainability.get_paginator("get_estimated_carbon_emissions")
    pages = list(
        paginator.paginate(
            TimePeriod={"Start": datetime(2026, 11, 1, tzinfo=UTC), "End": datetime(2026, 12, 1, tzinfo=UTC)},
            GroupBy=["SERVICE", "REGION"],
            PaginationConfig={"PageSize": 4},
        )
    )

    results = [result for page in pages for result in page["Results"]]
    assert len(pages) == 2
    assert len(results) == len(stand_in()["lines"])
    assert {result["ModelVersion"] for result in results} == {"v0.0.0-carbonmeter-stand-in"}
    # Without EmissionsTypes, the API gives the two totals only.
    assert set(results[0]["EmissionsValues"]) == {"TOTAL_LBM_CARBON_EMISSIONS", "TOTAL_MBM_CARBON_EMISSIONS"}


def test_the_client_reads_the_stand_in_month_in_kilograms(sustainability) -> None:
    month = fetch_aws_month(sustainability, "demo", "2026-11", datetime(2026, 12, 1, tzinfo=UTC))

    assert month is not None
    ec2 = next(line for line in month.lines if (line.aws_service, line.region) == ("AmazonEC2", "us-east-1"))
    assert ec2.kgco2e["TOTAL_LBM_CARBON_EMISSIONS"] == pytest.approx(300.0)


def test_a_month_before_aws_publishes_any_has_no_figures(sustainability) -> None:
    assert fetch_aws_month(sustainability, "demo", "2021-12", datetime(2026, 12, 1, tzinfo=UTC)) is None
