"""Cost beside carbon: Cost Explorer's request rules, carbon per dollar and the coverage of the spend."""

from datetime import UTC, date, datetime

import boto3
import pytest
from botocore.stub import Stubber

from carbonmeter.insights.aws_names import metered_as
from carbonmeter.insights.costs import (
    MAX_GROUP_KEYS,
    CostLine,
    CostWindowError,
    DayCost,
    backfill_jobs,
    by_service,
    carbon_per_dollar,
    cost_request,
    coverage,
    daily_jobs,
    earliest_day,
    fetch_costs,
)
from carbonmeter.models import CostJob, Service

TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 6, 20, tzinfo=UTC)


def _day(day: date, *lines: tuple[str, str, float]) -> DayCost:
    return DayCost(
        connection_id="acme",
        day=day,
        lines=tuple(CostLine(aws_service=s, region=r, usd=usd) for s, r, usd in lines),
        fetched_at=NOW,
    )


def test_the_request_asks_daily_unblended_cost_by_service_and_region() -> None:
    request = cost_request(date(2026, 11, 24), TODAY, TODAY)

    assert request["Granularity"] == "DAILY"
    assert request["Metrics"] == ["UnblendedCost"]
    assert [group["Key"] for group in request["GroupBy"]] == ["SERVICE", "REGION"]
    assert len(request["GroupBy"]) <= MAX_GROUP_KEYS
    assert request["TimePeriod"] == {"Start": "2026-11-24", "End": "2026-12-01"}


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        (date(2026, 11, 24), date(2026, 11, 24), "end must be after the start"),
        (date(2026, 11, 24), date(2026, 12, 5), "after tomorrow"),
        (date(2025, 10, 31), date(2025, 11, 2), "keeps daily figures from 2025-11-01"),
    ],
)
def test_cost_explorer_rules_are_checked_before_a_request_is_billed(start: date, end: date, problem: str) -> None:
    # moto takes any window; Cost Explorer refuses these (and bills USD 0.01 for the refusal too).
    with pytest.raises(CostWindowError, match=problem):
        cost_request(start, end, TODAY)


def test_daily_history_starts_on_the_first_of_the_month_thirteen_months_back() -> None:
    assert earliest_day(date(2026, 12, 1)) == date(2025, 11, 1)
    assert earliest_day(date(2026, 1, 15)) == date(2024, 12, 1)


def test_every_page_is_read_and_days_keep_their_lines() -> None:
    ce = boto3.client("ce", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    page = {
        "TimePeriod": {"Start": "2026-11-29", "End": "2026-11-30"},
        "Total": {},
        "Groups": [
            {
                "Keys": ["Amazon Simple Storage Service", "us-east-1"],
                "Metrics": {"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}},
            }
        ],
        "Estimated": True,
    }
    second = {
        **page,
        "Groups": [
            {"Keys": ["Tax", "NoRegion"], "Metrics": {"UnblendedCost": {"Amount": "0.3", "Unit": "USD"}}},
            {"Keys": ["AWS Lambda", "us-east-1"], "Metrics": {"UnblendedCost": {"Amount": "0", "Unit": "USD"}}},
        ],
        "Estimated": False,
    }
    with Stubber(ce) as stub:
        stub.add_response("get_cost_and_usage", {"ResultsByTime": [page], "NextPageToken": "p2"})
        stub.add_response(
            "get_cost_and_usage",
            {"ResultsByTime": [second]},
            {**cost_request(date(2026, 11, 29), date(2026, 11, 30), TODAY), "NextPageToken": "p2"},
        )
        days = fetch_costs(ce, "acme", date(2026, 11, 29), date(2026, 11, 30), NOW)

    assert len(days) == 1
    assert days[0].estimated
    # Zero lines say nothing and are dropped; the page's lines are kept in a stable order.
    assert [(line.aws_service, line.usd) for line in days[0].lines] == [
        ("Amazon Simple Storage Service", 1.5),
        ("Tax", 0.3),
    ]


def test_coverage_is_the_metered_share_of_the_spend_with_the_rest_listed_by_spend() -> None:
    days = [
        _day(
            date(2026, 11, 29),
            ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 6.0),
            ("Amazon CloudWatch", "us-east-1", 1.0),
            ("Tax", "NoRegion", 2.0),
            ("Refund", "NoRegion", -5.0),
        ),
        _day(date(2026, 11, 30), ("Amazon CloudWatch", "eu-west-1", 1.5), ("AWS Lambda", "us-east-1", 0.5)),
    ]

    found = coverage(days, [Service.EC2, Service.LAMBDA])

    assert found.total_usd == pytest.approx(11.0)
    assert found.metered_usd == pytest.approx(6.5)
    assert found.metered_share == pytest.approx(6.5 / 11.0)
    assert [(u.aws_service, u.usd) for u in found.unmetered] == [("Amazon CloudWatch", 2.5), ("Tax", 2.0)]


def test_a_service_the_connection_does_not_collect_counts_as_unmetered() -> None:
    days = [_day(date(2026, 11, 29), ("Amazon Simple Storage Service", "us-east-1", 4.0))]

    found = coverage(days, [Service.EC2])

    assert found.metered_share == 0
    assert found.unmetered[0].aws_service == "Amazon Simple Storage Service"


def test_no_spend_has_no_share() -> None:
    assert coverage([], list(Service)).metered_share is None


def test_carbon_per_dollar_divides_a_service_regions_co2e_by_its_spend_there() -> None:
    days = [
        _day(
            date(2026, 11, 29),
            ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 8.0),
            ("Amazon CloudFront", "global", 0.0001),
            ("Amazon Simple Storage Service", "eu-west-1", 2.0),
        )
    ]
    carbon = {("ec2", "us-east-1"): 2.0, ("dynamodb", "us-east-1"): 0.1}

    rows = {(row.service, row.region): row for row in carbon_per_dollar(carbon, days, list(Service))}

    assert rows[("ec2", "us-east-1")].kgco2e_per_usd == pytest.approx(0.25)
    # Spend without metered carbon reads 0 kg/USD; carbon without spend has no ratio.
    assert rows[("s3", "eu-west-1")].kgco2e_per_usd == 0
    assert rows[("dynamodb", "us-east-1")].kgco2e_per_usd is None
    assert rows[("cloudfront", "global")].usd == pytest.approx(0.0001)


def test_without_a_calculated_hour_no_ratio_is_given_rather_than_zero() -> None:
    days = [_day(date(2026, 11, 29), ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 8.0))]

    rows = carbon_per_dollar({}, days, list(Service), has_carbon=False)

    assert [(row.service, row.usd, row.kgco2e_per_usd) for row in rows] == [("ec2", 8.0, None)]
    assert [service.kgco2e_per_usd for service in by_service(rows, has_carbon=False)] == [None]


def test_by_service_adds_a_services_regions_and_puts_the_most_spent_first() -> None:
    days = [
        _day(
            date(2026, 11, 29),
            ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 8.0),
            ("Amazon Elastic Compute Cloud - Compute", "eu-west-1", 2.0),
            ("Amazon Simple Storage Service", "eu-west-1", 20.0),
        )
    ]
    carbon = {("ec2", "us-east-1"): 2.0, ("ec2", "eu-west-1"): 3.0, ("lambda", "us-east-1"): 0.5}

    services = by_service(carbon_per_dollar(carbon, days, list(Service)))

    assert [(s.service, s.kgco2e, s.usd) for s in services] == [
        ("s3", 0.0, 20.0),
        ("ec2", 5.0, 10.0),
        ("lambda", 0.5, 0.0),
    ]
    assert services[1].kgco2e_per_usd == pytest.approx(0.5)
    assert services[2].kgco2e_per_usd is None


def test_aws_names_map_to_the_services_metered_and_others_to_none() -> None:
    assert metered_as("EC2 - Other") is not None
    assert metered_as("EC2 - Other").service is Service.EBS
    assert metered_as("amazonec2").service is Service.EC2  # a product code, in any case
    assert metered_as("Amazon CloudWatch") is None


def test_the_daily_run_fetches_the_last_seven_whole_days_again() -> None:
    assert daily_jobs(["acme"], NOW) == [CostJob(connection_id="acme", first_day=date(2026, 11, 24), end_day=TODAY)]


def test_a_backfill_fetches_its_days_within_cost_explorers_history() -> None:
    start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 11, 29, 12, tzinfo=UTC)

    assert backfill_jobs(["acme"], start, end, NOW) == [
        CostJob(connection_id="acme", first_day=date(2025, 11, 1), end_day=date(2026, 11, 30))
    ]
    assert backfill_jobs(["acme"], datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC), NOW) == []
