"""The web page's API function under its deployed IAM policy: every route of docs/api.md answers with the grants
the stack gives it (read-only, named one by one in infra/stack.py), and a grant taken away fails its route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from devtools.aws.iam import DeployedPolicies, synthesized_templates
from devtools.aws.pipeline import LocalPipeline
from tests.support.api import ACME, END, START, get, store_connections, store_figures, tenant_connection, window

CONNECTION = "acme-prod"
BASE = f"/api/v1/connections/{CONNECTION}"
ROUTES = (
    ("/api/v1/connections", {}),
    (BASE, {}),
    (f"{BASE}/footprint", {**window(), "granularity": "day", "group_by": "service"}),
    (f"{BASE}/footprint", {**window(START, START + timedelta(hours=6)), "granularity": "hour", "group_by": "resource"}),
    (f"{BASE}/breakdown", {**window(), "group_by": "service"}),
    (f"{BASE}/top", {**window(START + timedelta(hours=5), END), "count": "3"}),
    (f"{BASE}/status", window()),
    (f"{BASE}/cost", window()),
    (f"{BASE}/anomalies", window()),
    (f"{BASE}/recommendations", {}),
    (f"{BASE}/export", {**window(), "format": "csv", "granularity": "day"}),
)


def _stored(cloud) -> None:
    store_connections(cloud.clients, cloud.settings, [tenant_connection(CONNECTION, ACME, created_at=START)])
    store_figures(cloud.clients, cloud.settings, CONNECTION, START, END)


def test_every_route_answers_under_the_deployed_api_policy(local_cloud, handlers_on):
    # Given a tenant's connection with two days of stored figures
    cloud = local_cloud(hours=1)
    _stored(cloud)

    # When a user of the tenant calls every route as the API function
    with handlers_on(cloud), cloud.pipeline.running_as("api"):
        answers = {(path, query.get("group_by")): get(path, query).status for path, query in ROUTES}
        # (a month without AWS's figures answers 404 after reading them)
        reconciliation = get(f"{BASE}/reconciliation", {"month": "2026-11"}).status

    # Then each answers, nothing was refused, and the calls were the API role's reads
    assert set(answers.values()) == {200}, answers
    assert reconciliation == 404
    guard = cloud.pipeline.guard
    assert guard.denials == []
    actions = {action for principal, action, _ in guard.allowed if "carbonmeter-api" in principal}
    assert {"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:Query"} <= actions
    assert all(action in {"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:Query"} for action in actions)


def test_a_removed_api_grant_fails_the_route_that_needs_it(local_cloud, handlers_on):
    # Given the API function's role without Scan, which lists the connections
    cloud = local_cloud(hours=1)
    _stored(cloud)
    policies = DeployedPolicies.of(synthesized_templates(), cloud.settings, cloud.account.account_id)
    pipeline = LocalPipeline(
        cloud.clients, cloud.settings, cloud.account.account_id, policies=policies.without("api", "dynamodb:Scan")
    )

    # When the list is asked for, and then one connection
    with handlers_on(cloud), pipeline.running_as("api"):
        with pytest.raises(ClientError) as refused:
            get("/api/v1/connections")
        one = get(BASE)

    # Then the list fails as it would in AWS (API Gateway answers 502 for a failed function), naming the call, and
    # the route that needs no Scan still answers
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:Scan" in str(refused.value)
    assert one.status == 200
