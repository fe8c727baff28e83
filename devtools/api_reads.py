"""How long the HTTP API takes to answer a year of one connection's footprint, on the embedded AWS.

A year of daily and monthly roll-ups (every service in each region, as ``devtools.period_reads`` stores it) is read
through the real API function (``functions.api.handler``, the event API Gateway delivers, a signed-in user of the
connection's tenant) by month, by day and over the whole year (the breakdown route), by service and region
unless ``--group-by`` says otherwise, a few times each; the seconds of each answer are printed. The page's
overview asks by day by region, and the services over the whole range. ``--moto-serialisation`` answers DynamoDB
with moto's own serialisation (the embedded AWS's "before"; see ``devtools.aws.dynamodb_speed``).
It prints figures; it is no test.

    python -m devtools.api_reads [--regions us-east-1,eu-west-1,ap-southeast-2] [--repeat 3]
        [--group-by service_region] [--moto-serialisation]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import boto3

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore
from devtools.aws.lambda_events import LambdaContext, http_api_event
from devtools.aws.pipeline import lambda_environment
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.period_reads import CONNECTION, store_year
from functions.api.handler import handler

TENANT = "benchmark"
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 1, 1, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
# What the page's overview asked before it read its services' breakdown whole: every service in every region.
PAGE_GROUP_BY = "service_region"
_CLAIMS = {"sub": "user-1", "token_use": "id", "cognito:username": "user-1", "cognito:groups": [TENANT]}


# "range": the groups over the whole year (the breakdown route), as the page's overview asks for its services.
VIEWS = ("month", "day", "range")


def _answer_seconds(granularity: str, group_by: str) -> tuple[int, int, float]:
    query = {"start": _time(YEAR_START), "end": _time(YEAR_END), "group_by": group_by}
    route = "breakdown" if granularity == "range" else "footprint"
    if route == "footprint":
        query["granularity"] = granularity
    event = http_api_event("GET", f"/api/v1/connections/{CONNECTION}/{route}", query=query, claims=_CLAIMS)
    started = time.perf_counter()
    answer = handler(event, LambdaContext(function_name="carbonmeter-api"))
    return int(answer["statusCode"]), len(answer.get("body") or ""), time.perf_counter() - started


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def year_answers(
    regions: Sequence[str], repeat: int, fast_dynamodb: bool, group_by: str = PAGE_GROUP_BY
) -> list[tuple[str, int, int, float]]:
    """(granularity, status, body bytes, seconds) of each answer, by month, by day and over the whole range,
    ``repeat`` times each."""
    with embedded_aws(fast_dynamodb=fast_dynamodb):
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        settings = create_resources(clients, clients.settings)
        clients = ClientFactory(boto3.Session(), settings=settings)
        ConnectionStore(clients, settings.connections_table).put(
            Connection(
                connection_id=CONNECTION,
                role_arn="arn:aws:iam::123456789012:role/benchmark",
                external_id="benchmark-external-id",
                regions=tuple(regions),
                tenant=TENANT,
            )
        )
        print(f"storing a year of roll-ups ({len(regions)} regions)...", file=sys.stderr)
        store_year(EmissionStore(clients, settings.emissions_table), YEAR_START, YEAR_END, regions)
        with lambda_environment(settings), use_runtime(Runtime(settings=settings, clients=clients)):
            return [
                (granularity, *_answer_seconds(granularity, group_by)) for granularity in VIEWS for _ in range(repeat)
            ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.api_reads", description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=lambda text: tuple(text.split(",")), default=REGIONS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--group-by", default=PAGE_GROUP_BY, choices=("service", "region", "service_region"))
    parser.add_argument("--moto-serialisation", action="store_true", help="moto's own DynamoDB answers (before)")
    args = parser.parse_args(argv)
    print("view    status  body bytes  seconds")
    for granularity, status, size, seconds in year_answers(
        args.regions, args.repeat, not args.moto_serialisation, args.group_by
    ):
        print(f"{'by ' + granularity:<8}{status:>6}  {size:>10,}  {seconds:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
