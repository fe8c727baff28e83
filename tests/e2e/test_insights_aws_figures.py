"""The daily cost job and the monthly reconciliation through the real scheduler and collector, on the embedded AWS
under the synthesized IAM policies (Cost Explorer from moto's queued results, AWS's figures from the stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carbonmeter.insights import costs, reconciliation
from carbonmeter.insights.costs import CostStore
from carbonmeter.insights.reconciliation import AwsCarbonStore
from carbonmeter.store import ConnectionStore
from devtools.aws.iam.deployed import DeployedPolicies, synthesized_templates
from devtools.aws.pipeline import LocalPipeline
from devtools.insights.aws_figures import queue_demo_costs
from tests.support.local_cloud import register

CONNECTION = "tenant"


def _fire(pipeline: LocalPipeline, insight: str, now: datetime) -> dict:
    pipeline.simulated_now = now
    return pipeline.invoke_scheduler({"insight": insight, "time": now.isoformat()})


def test_the_daily_cost_run_stores_a_week_of_spend_under_the_deployed_policies(local_cloud, handlers_on):
    # Given a registered connection whose week of spend Cost Explorer answers
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION)
    now = datetime.now(UTC)
    (job,) = costs.daily_jobs([CONNECTION], now)
    endpoint = cloud.clients.client("sts").meta.endpoint_url
    queue_demo_costs(endpoint, cloud.account.account_id, cloud.account.regions, job.first_day, job.end_day)
    # When the daily rule fires and the collector drains its job
    with handlers_on(cloud):
        assert _fire(cloud.pipeline, "costs", now) == {"insight": "costs", "jobs": 1}
        drained = cloud.pipeline.drain_collect()
    # Then the week is stored, through one billed request, and IAM refused nothing
    assert (drained.succeeded, drained.failed) == (1, 0)
    days = CostStore(cloud.clients, cloud.settings.usage_table).days(CONNECTION, job.first_day, job.end_day)
    assert len(days) == 7
    assert cloud.handler_clients.counter.calls["ce:GetCostAndUsage"] == 1
    assert cloud.pipeline.guard.denials == []
    found = costs.cost_insight(cloud.clients, cloud.settings, CONNECTION, job.first_day, job.end_day)
    assert 0 < (found.coverage.metered_share or 0) < 1


def test_the_monthly_reconciliation_stores_the_due_month_once(local_cloud, handlers_on):
    # Given a registered connection, and AWS's figures served by the embedded AWS's stand-in
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION)
    now = datetime.now(UTC)
    # When the monthly rule fires on two days
    with handlers_on(cloud):
        assert _fire(cloud.pipeline, "reconciliation", now)["jobs"] == 1
        assert cloud.pipeline.drain_collect().succeeded == 1
        again = _fire(cloud.pipeline, "reconciliation", now + timedelta(days=1))
    # Then the due month is stored with its (stand-in) model version, and not queued again
    month = reconciliation.due_month(now + timedelta(days=1))
    stored = AwsCarbonStore(cloud.clients, cloud.settings.usage_table).get(CONNECTION, reconciliation.due_month(now))
    assert stored is not None
    assert "stand-in" in stored.model_version
    assert again["jobs"] == (0 if month == stored.month else 1)
    assert cloud.pipeline.guard.denials == []
    found = reconciliation.reconcile(cloud.clients, cloud.settings, CONNECTION, stored.month)
    assert "AWS Glue" in {row.what for row in found.by_service}


def test_a_customer_role_without_the_cost_grant_fails_the_job_and_says_so(local_cloud, handlers_on):
    # Given a customer role deployed before the insights: no ce:GetCostAndUsage
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION)
    policies = DeployedPolicies.of(synthesized_templates(), cloud.settings, cloud.account.account_id)
    pipeline = LocalPipeline(
        cloud.clients,
        cloud.settings,
        cloud.account.account_id,
        policies=policies.without_customer_grant("ce:GetCostAndUsage"),
    )
    # When the daily job runs
    with handlers_on(cloud):
        _fire(pipeline, "costs", datetime.now(UTC))
        drained = pipeline.drain_collect(max_batches=1)
    # Then it fails as AWS would refuse it, and the connection says why
    assert drained.failed == 1
    connection = ConnectionStore(cloud.clients, cloud.settings.connections_table).get(CONNECTION)
    assert (connection.last_error or "").startswith("cost job: ")
    assert "AccessDenied" in (connection.last_error or "")
