"""ECS collection on moto: Fargate services and stand-alone tasks, their task counts and CPU, nothing on EC2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from carbonmeter.aws import ClientFactory
from carbonmeter.services import ecs
from devtools.aws.ecs_running import MOTO_RUNNING_VARIABLE, ecs_services_run_their_desired_count

REGION = "eu-west-1"
HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def _network() -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=REGION)
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}


def cluster(name: str, *, insights: bool) -> None:
    boto3.client("ecs", region_name=REGION).create_cluster(
        clusterName=name, settings=[{"name": "containerInsights", "value": "enabled" if insights else "disabled"}]
    )


def task_definition(family: str, cpu: int, memory: int, architecture: str = "X86_64", ephemeral: int = 20) -> None:
    boto3.client("ecs", region_name=REGION).register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=str(cpu),
        memory=str(memory),
        runtimePlatform={"cpuArchitecture": architecture, "operatingSystemFamily": "LINUX"},
        ephemeralStorage={"sizeInGiB": ephemeral},
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": memory}],
    )


def service(cluster_name: str, name: str, family: str, desired: int, **placement: Any) -> None:
    placement = placement or {"launchType": "FARGATE"}
    boto3.client("ecs", region_name=REGION).create_service(
        cluster=cluster_name,
        serviceName=name,
        taskDefinition=family,
        desiredCount=desired,
        networkConfiguration=_network(),
        **placement,
    )


def put(namespace: str, metric: str, dimensions: dict[str, str], values: list[float]) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
                "Timestamp": HOUR + timedelta(minutes=10 * index),
                "Value": value,
            }
            for index, value in enumerate(values)
        ],
    )


FARGATE_USAGE = {"Service": "Fargate", "Type": "Resource", "Resource": "vCPU", "Class": "Standard/OnDemand"}


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch):
    """Services run their desired count, as on the embedded AWS."""
    monkeypatch.delenv(MOTO_RUNNING_VARIABLE, raising=False)
    with ecs_services_run_their_desired_count():
        yield


def test_discovers_fargate_services_and_standalone_task_families_but_nothing_on_ec2(clients: ClientFactory, running):
    # Given a cluster with a Fargate service, an EC2 launch type one and two Fargate tasks started by RunTask
    cluster("web", insights=True)
    task_definition("api", 512, 1024, "ARM64", ephemeral=50)
    task_definition("batch", 2048, 4096)
    service("web", "api", "api", 4)
    service("web", "legacy", "batch", 2, launchType="EC2")
    boto3.client("ecs", region_name=REGION).run_task(
        cluster="web", taskDefinition="batch", count=2, launchType="FARGATE", networkConfiguration=_network()
    )

    # When ECS is discovered
    resources = {r.resource_id: r for r in ecs.SLICE.discover(clients, REGION)}

    # Then each Fargate workload is one resource sized from its task definition; the EC2 one is EC2's to meter
    assert sorted(resources) == ["web/api", "web/batch"]
    api = resources["web/api"]
    assert api.resource_type == "fargate-arm64-0.5vcpu-1024mib"
    assert api.attributes["size"] == ecs.TaskSize(0.5, 1024.0, "arm64", 50.0)
    assert api.attributes["running"] == 4
    assert api.attributes["kind"] == "service"
    batch = resources["web/batch"]
    assert (batch.attributes["kind"], batch.attributes["running"]) == ("tasks", 2)
    assert batch.attributes["dimensions"] == (("ClusterName", "web"), ("TaskDefinitionFamily", "batch"))


def test_container_insights_counts_the_tasks_and_cpu_utilisation_comes_from_aws_ecs(collect, running):
    cluster("web", insights=True)
    task_definition("api", 1024, 2048)
    service("web", "api", "api", 4)
    dimensions = {"ClusterName": "web", "ServiceName": "api"}
    put("ECS/ContainerInsights", "RunningTaskCount", dimensions, [2, 3, 4, 3])
    put("AWS/ECS", "CPUUtilization", dimensions, [30, 50])

    (record,) = collect(ecs.SLICE, REGION, HOUR)

    assert record.resource_id == "web/api"
    assert record.details.task_hours == pytest.approx(3.0)
    assert record.details.task_count_source == "container_insights"
    assert record.details.cpu_utilization_pct == pytest.approx(40.0)
    assert record.details.cluster == "web"


def test_without_insights_the_accounts_fargate_vcpus_are_shared_after_what_insights_explains(collect, running):
    # Given an insights service measured at 2 tasks of 1 vCPU, and two plain services of 1 and 2 vCPUs, 1 task each
    cluster("web", insights=True)
    cluster("batch", insights=False)
    task_definition("one", 1024, 2048)
    task_definition("two", 2048, 4096)
    service("web", "api", "one", 5)
    service("batch", "small", "one", 1)
    service("batch", "large", "two", 1)
    put("ECS/ContainerInsights", "RunningTaskCount", {"ClusterName": "web", "ServiceName": "api"}, [2, 2])
    # And the account ran 8 vCPUs on average on Fargate
    put("AWS/Usage", "ResourceCount", FARGATE_USAGE, [7, 9])

    records = {r.resource_id: r.details for r in collect(ecs.SLICE, REGION, HOUR)}

    # Then the 6 vCPUs insights does not explain are shared 1:2 by size: 2 vCPU-hours and 4 vCPU-hours
    assert records["batch/small"].task_count_source == "fargate_usage"
    assert records["batch/small"].task_hours == pytest.approx(2.0)
    assert records["batch/large"].task_hours == pytest.approx(2.0)
    assert records["web/api"].task_hours == pytest.approx(2.0)


def test_without_any_task_count_metric_the_running_count_at_collection_is_used(collect, running):
    cluster("batch", insights=False)
    task_definition("one", 1024, 2048)
    service("batch", "small", "one", 3)

    (record,) = collect(ecs.SLICE, REGION, HOUR)

    assert (record.details.task_hours, record.details.task_count_source) == (3.0, "running_count")


def test_both_documented_usage_shapes_count_the_same_vcpus_once(clients: ClientFactory):
    # Given AWS/Usage answering in the ECS guide's shape (on-demand + spot) and the EKS guide's (on-demand)
    requests = ecs.usage_requests(HOUR)
    metrics = {requests[0]: [3.0], requests[1]: [1.0], requests[2]: [4.5]}
    # Then the options of one shape add up and the two shapes are not added together
    assert ecs.fargate_vcpus(metrics, HOUR) == pytest.approx(4.5)
    assert ecs.fargate_vcpus({}, HOUR) is None


def test_the_embedded_aws_reports_a_services_desired_count_as_running(monkeypatch: pytest.MonkeyPatch, aws):
    # Given moto, which reports MOTO_ECS_SERVICE_RUNNING (0 when unset) as every service's runningCount
    monkeypatch.delenv(MOTO_RUNNING_VARIABLE, raising=False)
    cluster("web", insights=False)
    task_definition("api", 512, 1024)
    service("web", "plain", "api", 3)
    client = boto3.client("ecs", region_name=REGION)
    assert client.describe_services(cluster="web", services=["plain"])["services"][0]["runningCount"] == 0

    # When the patch is entered, a new service runs its desired count, deployment included
    with ecs_services_run_their_desired_count():
        service("web", "settled", "api", 3)
        # and moto's variable still wins where a test sets it
        monkeypatch.setenv(MOTO_RUNNING_VARIABLE, "1")
        service("web", "short", "api", 3)
    settled, short = client.describe_services(cluster="web", services=["settled", "short"])["services"]
    assert (settled["runningCount"], settled["pendingCount"]) == (3, 0)
    assert settled["deployments"][0]["runningCount"] == 3
    assert short["runningCount"] == 1
    # And leaving it restores moto's rule
    monkeypatch.delenv(MOTO_RUNNING_VARIABLE)
    service("web", "after", "api", 3)
    assert client.describe_services(cluster="web", services=["after"])["services"][0]["runningCount"] == 0


def test_task_size_reads_fargate_task_definitions():
    definition = json.loads(
        '{"cpu": "256", "memory": "512", "runtimePlatform": {"cpuArchitecture": "ARM64"},'
        ' "ephemeralStorage": {"sizeInGiB": 21}}'
    )
    assert ecs.task_size(definition) == ecs.TaskSize(0.25, 512.0, "arm64", 21.0)
    # No runtimePlatform or ephemeralStorage: x86 with the 20 GiB every task gets
    assert ecs.task_size({"cpu": "4096", "memory": "8192"}) == ecs.TaskSize(4.0, 8192.0, "x86_64", 20.0)


def test_a_capacity_provider_strategy_puts_on_fargate_the_share_its_weights_give():
    # moto keeps no strategy on a service, so the rule is checked on DescribeServices' shape directly
    def strategy(*items: tuple[str, int]) -> dict[str, Any]:
        return {"capacityProviderStrategy": [{"capacityProvider": p, "weight": w} for p, w in items]}

    assert ecs.fargate_share(strategy(("FARGATE", 1), ("FARGATE_SPOT", 1))) == 1.0
    assert ecs.fargate_share(strategy(("FARGATE", 1), ("on-ec2-asg", 3))) == pytest.approx(0.25)
    assert ecs.fargate_share(strategy(("on-ec2-asg", 0), ("FARGATE", 0))) == 0.0
    assert ecs.fargate_share({"launchType": "FARGATE"}) == 1.0
    assert ecs.fargate_share({"launchType": "EC2"}) == 0.0
