"""Every function of the local pipeline runs under its deployed IAM policy, as synthesized by the stack.

moto enforces no IAM, so these tests prove that the guard does: a grant removed from the synthesized
policies makes the call that needs it fail with AccessDenied, as it would in AWS.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from carbonmeter.services import GLOBAL_SERVICES, READ_ACTIONS, REGIONAL_SERVICES
from carbonmeter.store import StatusStore
from devtools.aws.iam import DeployedPolicies, synthesized_templates
from devtools.aws.pipeline import LocalPipeline
from tests.support.local_cloud import register

CONNECTION = "tenant"


def _deployed(cloud) -> DeployedPolicies:
    return DeployedPolicies.of(synthesized_templates(), cloud.settings, cloud.account.account_id)


def _pipeline_under(cloud, policies: DeployedPolicies) -> LocalPipeline:
    """The cloud's pipeline, its functions running under ``policies`` instead of the synthesized ones."""
    return LocalPipeline(cloud.clients, cloud.settings, cloud.account.account_id, policies=policies)


def _checked(pipeline: LocalPipeline, principal_part: str) -> set[tuple[str, str]]:
    return {(action, resource) for principal, action, resource in pipeline.guard.allowed if principal_part in principal}


def test_the_hourly_run_passes_under_every_deployed_policy(local_cloud, handlers_on):
    # Given a registered connection and the pipeline under the synthesized policies
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION, from_first_hour=True)
    usage_table = (
        f"arn:aws:dynamodb:{cloud.settings.region}:{cloud.account.account_id}:table/{cloud.settings.usage_table}"
    )
    # When the hourly rule fires and both queues drain
    with handlers_on(cloud):
        collected, calculated = cloud.pipeline.run_hour(cloud.hours[-1])
    # Then everything succeeded, nothing was refused, and every function's calls were checked
    assert (collected.succeeded, collected.failed, calculated.succeeded, calculated.failed) == (1, 0, 1, 0)
    guard = cloud.pipeline.guard
    assert guard.denials == []
    # the scheduler's look-up of the hours still to collect (the call the stack did not grant)
    assert ("dynamodb:Query", usage_table) in _checked(cloud.pipeline, "carbonmeter-scheduler")
    assert any(a == "sqs:ReceiveMessage" for a, _ in _checked(cloud.pipeline, "carbonmeter-collector"))
    assert any(a == "sts:AssumeRole" for a, _ in _checked(cloud.pipeline, "carbonmeter-collector"))
    assert any(a == "dynamodb:BatchWriteItem" for a, _ in _checked(cloud.pipeline, "carbonmeter-calculator"))
    # and the collector's calls in the customer account, made with the assumed session
    customer_actions = {a for a, _ in _checked(cloud.pipeline, "assumed-role/CarbonMeterReadOnly/")}
    assert customer_actions
    assert customer_actions <= set(READ_ACTIONS)
    assert "cloudwatch:GetMetricData" in customer_actions
    # and API Gateway's GET was checked on the listing paths the role limits it to, never on "*"
    customer = _checked(cloud.pipeline, "assumed-role/CarbonMeterReadOnly/")
    gets = {resource.split("::", 1)[1] for action, resource in customer if action == "apigateway:GET"}
    assert {"/restapis", "/apis"} <= gets
    assert all(path in ("/restapis", "/apis") or path.endswith("/stages") for path in gets)


def test_a_removed_scheduler_grant_fails_the_hourly_run(local_cloud, handlers_on):
    # Given the scheduler's role without dynamodb:Query, as the stack was before the fix
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION, from_first_hour=True)
    pipeline = _pipeline_under(cloud, _deployed(cloud).without("scheduler", "dynamodb:Query"))
    # When the hourly rule fires, and its page is delivered to the scheduler
    with handlers_on(cloud):
        run = pipeline.fire_schedule(pipeline.fire_time(cloud.hours[-1]))
    # Then the page fails as it would in AWS, naming the call, every delivery of it, and nothing is queued
    assert (run["pages"], run["jobs"]) == (1, 0)
    assert run["failed_pages"] >= 1
    assert all("AccessDeniedException" in error and "dynamodb:Query" in error for error in run["page_errors"])
    assert pipeline.drain_collect().succeeded == 0


def test_a_removed_customer_grant_fails_that_service_in_every_region(local_cloud, handlers_on):
    # Given a customer role that lacks ec2:DescribeVolumes (EBS discovery)
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION, from_first_hour=True)
    pipeline = _pipeline_under(cloud, _deployed(cloud).without_customer_grant("ec2:DescribeVolumes"))
    hour = cloud.hours[-1]
    # When the hour is collected
    with handlers_on(cloud):
        pipeline.run_hour(hour)
    # Then EBS failed with AWS's own error in every region, and every other scope was stored
    status = StatusStore(cloud.clients, cloud.settings.usage_table).get(CONNECTION, hour)
    assert status is not None
    assert not status.complete
    assert sorted(status.failed) == [f"{region}/ebs" for region in sorted(cloud.account.regions)]
    assert all("UnauthorizedOperation" in error for error in status.failed.values())
    assert len(status.succeeded) == len(cloud.account.regions) * (len(REGIONAL_SERVICES) - 1) + len(GLOBAL_SERVICES)


def test_only_the_collector_may_assume_the_customer_role(local_cloud, handlers_on):
    # Given the customer role's trust, which names the collector's role
    cloud = local_cloud(hours=1)
    pipeline = cloud.pipeline
    # When another function's credentials try to assume it
    sts = pipeline.clients_of("calculator").client("sts")
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=cloud.account.role_arn, RoleSessionName="probe", ExternalId=cloud.account.external_id)
    # Then it is refused, and the collector without an ExternalId is refused too
    assert "sts:AssumeRole" in str(refused.value)
    collector = pipeline.clients_of("collector").client("sts")
    with pytest.raises(ClientError) as no_external_id:
        collector.assume_role(RoleArn=cloud.account.role_arn, RoleSessionName="probe")
    assert "trust policy" in str(no_external_id.value)
    collector.assume_role(RoleArn=cloud.account.role_arn, RoleSessionName="probe", ExternalId=cloud.account.external_id)


def test_types_missing_from_the_snapshot_are_asked_under_the_customer_grant(
    local_cloud, handlers_on, no_instance_type_snapshot
):
    # Given a collector whose snapshot lacks every instance type (as it lacks types newer than the layer's file)
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION, from_first_hour=True)
    hour = cloud.hours[-1]
    # When the hour is collected under the synthesized policies
    with handlers_on(cloud):
        collected, _ = cloud.pipeline.run_hour(hour)
    # Then EC2 was asked with the assumed session and the customer role's grant allowed it
    assert collected.succeeded == 1
    assert cloud.pipeline.guard.denials == []
    customer_actions = {a for a, _ in _checked(cloud.pipeline, "assumed-role/CarbonMeterReadOnly/")}
    assert "ec2:DescribeInstanceTypes" in customer_actions
