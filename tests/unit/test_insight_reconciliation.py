"""Reconciliation with AWS's figures: the Sustainability API client (botocore's Stubber), the dates AWS publishes
on, and the comparison maths."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from carbonmeter.insights.reconciliation import (
    LBM,
    MBM,
    SCOPE_1,
    SCOPE_2_LBM,
    SCOPE_3_LBM,
    AwsCarbonLine,
    AwsCarbonMonth,
    backfill_jobs,
    carbon_request,
    compare,
    due_month,
    fetch_aws_month,
    monthly_jobs,
    published,
)
from carbonmeter.models import ReconcileJob
from carbonmeter.periods import Figure, Granularity, GroupBy, GroupFigures, PeriodRollup

NOW = datetime(2026, 11, 22, 6, 40, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)


def _client():
    return boto3.client("sustainability", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def _result(service: str, region: str, tonnes: dict[str, float], start: datetime = OCTOBER) -> dict:
    return {
        "TimePeriod": {"Start": start, "End": datetime(2026, 11, 1, tzinfo=UTC)},
        "DimensionsValues": {"SERVICE": service, "REGION": region},
        "ModelVersion": "v3.0.0",
        "EmissionsValues": {kind: {"Value": value, "Unit": "MTCO2e"} for kind, value in tonnes.items()},
    }


def test_the_client_reads_every_page_in_kilograms_with_its_model_version() -> None:
    client = _client()
    with Stubber(client) as stub:
        # The Stubber checks both requests and answers against botocore's model of the service.
        stub.add_response(
            "get_estimated_carbon_emissions",
            {"Results": [_result("AmazonEC2", "us-east-1", {LBM: 0.012, MBM: 0.004})], "NextToken": "page-2"},
            carbon_request("2026-10"),
        )
        stub.add_response(
            "get_estimated_carbon_emissions",
            {"Results": [_result("AmazonS3", "eu-west-1", {LBM: 0.001, MBM: 0.0})]},
            carbon_request("2026-10", "page-2"),
        )
        month = fetch_aws_month(client, "acme", "2026-10", NOW)
        stub.assert_no_pending_responses()

    assert month is not None
    assert month.model_version == "v3.0.0"
    assert [(line.aws_service, line.kgco2e[LBM]) for line in month.lines] == [
        ("AmazonEC2", pytest.approx(12.0)),
        ("AmazonS3", pytest.approx(1.0)),
    ]


def test_an_unpublished_month_gives_nothing_to_store() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_estimated_carbon_emissions", {"Results": []}, carbon_request("2026-10"))
        assert fetch_aws_month(client, "acme", "2026-10", NOW) is None


def test_the_request_asks_every_emissions_type_by_service_and_region_for_the_month() -> None:
    request = carbon_request("2026-12")

    assert request["TimePeriod"] == {
        "Start": datetime(2026, 12, 1, tzinfo=UTC),
        "End": datetime(2027, 1, 1, tzinfo=UTC),
    }
    assert request["GroupBy"] == ["SERVICE", "REGION"]
    assert len(request["EmissionsTypes"]) == 7


@pytest.mark.parametrize(
    ("now", "month"),
    [
        (datetime(2026, 11, 21, 0, 0, tzinfo=UTC), "2026-10"),
        (datetime(2026, 11, 20, 23, 0, tzinfo=UTC), "2026-09"),
        (datetime(2027, 1, 25, tzinfo=UTC), "2026-12"),
    ],
)
def test_the_due_month_is_the_latest_aws_has_published(now: datetime, month: str) -> None:
    assert due_month(now) == month


def test_nothing_before_january_2022_is_published() -> None:
    assert not published("2021-12", NOW)
    assert published("2022-01", NOW)


def test_the_monthly_run_skips_connections_whose_month_is_stored() -> None:
    stored = {("done", "2026-10")}

    jobs = monthly_jobs(["done", "new"], lambda c, m: (c, m) in stored, NOW)

    assert jobs == [ReconcileJob(connection_id="new", month="2026-10")]


def test_a_backfill_reconciles_the_published_months_it_covers() -> None:
    start, end = datetime(2026, 8, 15, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)

    assert [job.month for job in backfill_jobs(["acme"], start, end, NOW)] == ["2026-08", "2026-09", "2026-10"]


def _ours(hours: int) -> PeriodRollup:
    def group(by: GroupBy, name: str, operational: float, embodied: float) -> GroupFigures:
        return GroupFigures(
            group_by=by,
            group=name,
            operational_kgco2e=Figure(central=operational, low=operational, high=operational),
            embodied_kgco2e=Figure(central=embodied, low=embodied, high=embodied),
        )

    return PeriodRollup(
        connection_id="acme",
        granularity=Granularity.MONTH,
        start=OCTOBER,
        hours_covered=hours,
        hours_in_period=744,
        groups=(
            group(GroupBy.SERVICE, "ec2", 8.0, 2.0),
            group(GroupBy.SERVICE, "s3", 1.0, 0.0),
            group(GroupBy.REGION, "us-east-1", 9.0, 2.0),
        ),
    )


def _aws() -> AwsCarbonMonth:
    lines = (
        AwsCarbonLine(
            aws_service="AmazonEC2",
            region="us-east-1",
            kgco2e={LBM: 20.0, MBM: 5.0, SCOPE_1: 1.0, SCOPE_2_LBM: 15.0, SCOPE_3_LBM: 4.0},
        ),
        AwsCarbonLine(
            aws_service="AWS Glue",
            region="us-east-1",
            kgco2e={LBM: 2.0, MBM: 1.0, SCOPE_1: 0.0, SCOPE_2_LBM: 2.0, SCOPE_3_LBM: 0.0},
        ),
    )
    return AwsCarbonMonth(connection_id="acme", month="2026-10", model_version="v3.0.0", lines=lines, fetched_at=NOW)


def test_the_comparison_sets_each_scope_beside_its_counterpart() -> None:
    found = compare(_aws(), _ours(744), 744)
    total, market, operational, embodied = found.scopes

    # CarbonMeter 11 kg in all (9 operational, 2 embodied); AWS 22 kg location-based, 6 market-based.
    assert (total.carbonmeter_kg, total.ratio) == (pytest.approx(11.0), pytest.approx(11 / 22))
    assert (market.aws_kg, market.ratio) == (pytest.approx(6.0), pytest.approx(11 / 6))
    assert operational.ratio == pytest.approx(9 / 18)
    assert embodied.ratio == pytest.approx(2 / 4)


def test_services_are_matched_by_name_and_the_unmetered_stand_alone() -> None:
    by_service = {row.what: row for row in compare(_aws(), _ours(744), 744).by_service}

    assert by_service["ec2"].ratio == pytest.approx(10 / 20)
    assert by_service["s3"].aws_kg is None
    assert by_service["s3"].ratio is None
    assert by_service["AWS Glue"].carbonmeter_kg is None


def test_a_model_without_the_scope_split_compares_totals_only() -> None:
    lines = (AwsCarbonLine(aws_service="AmazonEC2", region="us-east-1", kgco2e={LBM: 20.0, MBM: 5.0}),)
    aws = AwsCarbonMonth(connection_id="acme", month="2026-10", model_version="v1.0.0", lines=lines, fetched_at=NOW)

    found = compare(aws, _ours(744), 744)

    assert found.scopes[0].ratio == pytest.approx(11 / 20)
    assert [row.ratio for row in found.scopes[2:]] == [None, None]


def test_a_partly_calculated_month_says_so_and_scales_per_hour() -> None:
    found = compare(_aws(), _ours(186), 744)

    assert (found.hours_calculated, found.hours_in_month) == (186, 744)
    assert found.per_hour_factor == pytest.approx(4.0)


def test_no_carbonmeter_month_compares_as_zero() -> None:
    found = compare(_aws(), None, 744)

    assert found.hours_calculated == 0
    assert found.scopes[0].carbonmeter_kg == 0
    assert found.per_hour_factor is None
