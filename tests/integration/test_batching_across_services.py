"""GetMetricData batching across services: one region's queries fill requests up to 500, whatever their service."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MAX_QUERIES_PER_REQUEST
from carbonmeter.models import GLOBAL_REGION, previous_whole_hour
from carbonmeter.settings import Settings
from devtools import benchmark
from devtools.aws.server import embedded_aws
from devtools.services import DEVTOOLS_SERVICES

REGION = "eu-west-1"
GLOBAL_NAMESPACES = {"AWS/CloudFront"}
HOUR = previous_whole_hour(datetime.now(UTC))
# A mixed fleet of every metered service, big enough for its hour to need more than two full requests.
SIZE = 400


def test_one_regions_queries_of_every_service_fill_requests_of_500():
    # Given a mixed fleet of every service with metrics, in one region, and every GetMetricData request recorded
    sent: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["MetricDataQueries"])

    with embedded_aws():
        clients = ClientFactory(settings=Settings.from_env())
        fleet = benchmark.build_fleet(clients, SIZE, (REGION,), HOUR)
        requests = benchmark.metric_requests_by_region(clients, fleet)[REGION]
        # When its hour is collected
        run = benchmark.run_collection(
            clients, fleet, workers=1, hooks=[("provide-client-params.cloudwatch.GetMetricData", record)]
        )

    # Then the requests are the fewest the queries allow: ceil(Q / 500) for each group of queries that may share a
    # request (one period and window: the hourly metrics of every service, and S3's daily ones), so at most one
    # request per group is not full
    # (a global service's metrics, CloudFront's, are read apart, in us-east-1: one more request)
    regional = [batch for batch in sent if not all(_namespace(q) in GLOBAL_NAMESPACES for q in batch)]
    figures = benchmark.plan_figures({REGION: requests})
    assert figures.largest_group > MAX_QUERIES_PER_REQUEST
    assert len(regional) == figures.minimum_requests
    assert run.get_metric_data_calls == len(sent) == len(regional) + 1
    assert sum(1 for batch in regional if len(batch) < MAX_QUERIES_PER_REQUEST) <= figures.groups
    # And the services share requests: every namespace of the fleet is asked, and some request holds several
    namespaces = [Counter(_namespace(q) for q in batch) for batch in regional]
    asked = set().union(*namespaces)
    assert {r.namespace for r in requests} == asked
    assert max(len(batch) for batch in namespaces) >= 3
    metric_bearing = [(s, part) for s, part in DEVTOOLS_SERVICES.items() if part.fleet_share > 0]
    assert all(
        fleet.account.count(service, GLOBAL_REGION if part.is_global else REGION) > 0
        for service, part in metric_bearing
    )


def _namespace(query: dict[str, Any]) -> str:
    return str(query["MetricStat"]["Metric"]["Namespace"])
