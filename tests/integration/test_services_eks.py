"""EKS collection on moto: one record per cluster (its control plane, its Fargate pods), never its EC2 nodes.

moto's node groups launch no instances: the tests launch the nodes themselves, tagged as EKS tags them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.collection import collect_region
from carbonmeter.emissions import estimate
from carbonmeter.models import Service
from carbonmeter.services import COLLECTORS, ec2, ecs, eks
from devtools.aws.ecs_running import MOTO_RUNNING_VARIABLE, ecs_services_run_their_desired_count
from devtools.aws.lifetimes import backdate
from tests.support.aws_hooks import refuse_when
from tests.support.connections import connection_for

REGION = "eu-west-1"
HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/eks"
FARGATE_USAGE = {"Service": "Fargate", "Type": "Resource", "Resource": "vCPU", "Class": "Standard/OnDemand"}


def subnets() -> list[str]:
    return [subnet["SubnetId"] for subnet in boto3.client("ec2", region_name=REGION).describe_subnets()["Subnets"]][:2]


def eks_cluster(name: str, *, fargate: bool = False) -> None:
    client = boto3.client("eks", region_name=REGION)
    client.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets()})
    client.create_nodegroup(
        clusterName=name,
        nodegroupName="default",
        subnets=subnets(),
        nodeRole=ROLE,
        scalingConfig={"minSize": 2, "maxSize": 2, "desiredSize": 2},
    )
    if fargate:
        client.create_fargate_profile(
            fargateProfileName="batch", clusterName=name, podExecutionRoleArn=ROLE, selectors=[{"namespace": "batch"}]
        )


def instances(count: int, instance_type: str = "m5.large", tags: dict[str, str] | None = None) -> list[str]:
    client = boto3.client("ec2", region_name=REGION)
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    extra: dict[str, Any] = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    launched = client.run_instances(ImageId=image, MinCount=count, MaxCount=count, InstanceType=instance_type, **extra)
    return [instance["InstanceId"] for instance in launched["Instances"]]


def ecs_cluster_on_ec2(name: str, instance_ids: list[str]) -> None:
    """An ECS cluster whose container instances are ``instance_ids``, running a service on the EC2 launch type."""
    client = boto3.client("ecs", region_name=REGION)
    client.create_cluster(clusterName=name)
    for instance_id in instance_ids:
        client.register_container_instance(
            cluster=name, instanceIdentityDocument=json.dumps({"instanceId": instance_id})
        )
    client.register_task_definition(
        family="web", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512, "cpu": 256}]
    )
    client.create_service(cluster=name, serviceName="web", taskDefinition="web", desiredCount=2, launchType="EC2")


def fargate_service(cluster: str, name: str, vcpus: int, *, insights: bool) -> None:
    client = boto3.client("ecs", region_name=REGION)
    ec2_client = boto3.client("ec2", region_name=REGION)
    group = ec2_client.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    client.create_cluster(
        clusterName=cluster, settings=[{"name": "containerInsights", "value": "enabled" if insights else "disabled"}]
    )
    client.register_task_definition(
        family=name,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=str(1024 * vcpus),
        memory=str(2048 * vcpus),
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 2048 * vcpus}],
    )
    client.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=name,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets()[:1], "securityGroups": [group]}},
    )


def put(namespace: str, metric: str, dimensions: dict[str, str], values: list[float]) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": HOUR + timedelta(minutes=10 * index),
                "Value": value,
            }
            for index, value in enumerate(values)
        ],
    )


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(MOTO_RUNNING_VARIABLE, raising=False)
    with ecs_services_run_their_desired_count():
        yield


def collect_all(clients: ClientFactory) -> list[Any]:
    collectors = [COLLECTORS[service] for service in (Service.EC2, Service.ECS, Service.EKS)]
    # Moto stamps creation times with "now": the resources are made to exist since a day before the hour.
    backdate(REGION, HOUR - timedelta(days=1))
    outcome = collect_region(clients, REGION, collectors, connection_for(REGION), [HOUR])
    assert not outcome.failed
    return outcome.records


def test_ec2_capacity_behind_eks_and_ecs_is_counted_once_under_ec2_with_its_cluster(clients: ClientFactory, running):
    # Given an EKS cluster whose node group's two nodes are tagged EC2 instances, an ECS cluster of two
    # container instances running an EC2-launch-type service, and one instance of neither
    eks_cluster("k8s")
    nodes = instances(2, "m6g.large", {"eks:cluster-name": "k8s", "eks:nodegroup-name": "default"})
    container_instances = instances(2)
    ecs_cluster_on_ec2("on-ec2", container_instances)
    (plain,) = instances(1)

    # When EC2, ECS and EKS are collected together
    records = collect_all(clients)

    # Then every instance has exactly one record, an EC2 one, naming the cluster it is capacity of
    by_id: dict[str, list[Any]] = {}
    for record in records:
        by_id.setdefault(record.resource_id, []).append(record)
    for instance_id in [*nodes, *container_instances, plain]:
        assert [r.service for r in by_id[instance_id]] == [Service.EC2]
    labels = {
        i: (by_id[i][0].details.cluster_kind, by_id[i][0].details.cluster) for i in [*nodes, *container_instances]
    }
    assert labels == {**dict.fromkeys(nodes, ("eks", "k8s")), **dict.fromkeys(container_instances, ("ecs", "on-ec2"))}
    assert (by_id[plain][0].details.cluster_kind, by_id[plain][0].details.cluster) == (None, None)
    # And ECS has no record for the EC2 launch type, EKS one for the cluster with no EC2 capacity in it
    assert not [r for r in records if r.service == Service.ECS]
    (cluster,) = [r for r in records if r.service == Service.EKS]
    assert (cluster.resource_id, cluster.details.fargate_vcpu_hours) == ("k8s", 0.0)
    control_plane_only = estimate(cluster)
    ec2_nodes = sum(estimate(r).compute_kwh for r in records if r.resource_id in nodes)
    # Its energy is the five control-plane servers' (5 x m5.large at 50 %), the same whatever its nodes do
    assert control_plane_only.compute_kwh == pytest.approx(5 * 0.00557285, rel=1e-6)
    assert ec2_nodes > 0


def test_a_cluster_record_carries_its_version_and_fargate_profiles(clients: ClientFactory):
    eks_cluster("k8s", fargate=True)
    eks_cluster("plain")

    resources = {r.resource_id: r for r in eks.SLICE.discover(clients, REGION)}

    assert resources["k8s"].resource_type == "eks-cluster"
    assert resources["k8s"].attributes["fargate_profiles"] == 1
    assert resources["k8s"].attributes["fargate_share"] == 1.0
    assert resources["plain"].attributes["fargate_profiles"] == 0
    # A cluster without Fargate profiles needs no metric
    assert eks.SLICE.metric_requests(resources["plain"], HOUR) == []


def test_fargate_pods_get_the_accounts_fargate_vcpus_that_ecs_container_insights_does_not_explain(
    clients: ClientFactory, running
):
    # Given an EKS cluster with a Fargate profile, an ECS service measured at 1.5 tasks of 2 vCPUs
    eks_cluster("k8s", fargate=True)
    fargate_service("web", "api", 2, insights=True)
    put("ECS/ContainerInsights", "RunningTaskCount", {"ClusterName": "web", "ServiceName": "api"}, [1, 2])
    # And the account ran 5 vCPUs on Fargate on average
    put("AWS/Usage", "ResourceCount", FARGATE_USAGE, [5, 5])

    records = {(r.service, r.resource_id): r for r in collect_all(clients)}

    # Then the pods ran the 2 vCPUs ECS does not explain, flagged, and ECS its measured 1.5 tasks
    pods = records[(Service.EKS, "k8s")]
    assert pods.details.fargate_vcpu_hours == pytest.approx(2.0)
    assert records[(Service.ECS, "web/api")].details.task_hours == pytest.approx(1.5)
    assert "eks_fargate_from_usage" in estimate(pods).flags


def test_ecs_workloads_without_container_insights_take_the_whole_fargate_count(clients: ClientFactory, running):
    eks_cluster("k8s", fargate=True)
    fargate_service("batch", "report", 1, insights=False)
    put("AWS/Usage", "ResourceCount", FARGATE_USAGE, [4, 4])

    records = {(r.service, r.resource_id): r for r in collect_all(clients)}

    # ECS's share-out charges every vCPU to the ECS workloads it cannot tell apart: nothing is counted twice
    assert records[(Service.ECS, "batch/report")].details.task_hours == pytest.approx(4.0)
    assert records[(Service.EKS, "k8s")].details.fargate_vcpu_hours == 0.0


def test_ecs_and_eks_in_one_region_list_ecs_fargate_workloads_once(
    clients: ClientFactory, counter: ApiCallCounter, running
):
    # Given an EKS cluster with a Fargate profile and an ECS Fargate service, which EKS's share-out reads too
    eks_cluster("k8s", fargate=True)
    fargate_service("web", "api", 2, insights=True)

    # When the region's ECS and EKS are collected together, as the collector does
    records = {(r.service, r.resource_id) for r in collect_all(clients)}

    # Then both have their records, and ECS's services and task definitions were described once, not once a slice
    assert {(Service.ECS, "web/api"), (Service.EKS, "k8s")} <= records
    assert counter.calls["ecs:DescribeServices"] == 1
    assert counter.calls["ecs:DescribeTaskDefinition"] == 1


def test_eks_node_tags_name_the_cluster():
    assert ec2.eks_cluster([{"Key": "eks:cluster-name", "Value": "prod"}]) == "prod"
    assert ec2.eks_cluster([{"Key": "kubernetes.io/cluster/self-managed", "Value": "owned"}]) == "self-managed"
    assert ec2.eks_cluster([{"Key": "team", "Value": "web"}]) is None
    # Shared by two clusters' tags: no single cluster to name
    assert (
        ec2.eks_cluster([{"Key": "kubernetes.io/cluster/a", "Value": "shared"}, {"Key": "kubernetes.io/cluster/b"}])
        is None
    )
    assert ecs.fargate_vcpus({}, HOUR) is None


def test_a_role_without_the_ecs_actions_still_meters_ec2_unlabelled(settings, aws, running):
    # Given a container instance and an EKS node, and a customer role that predates ecs:ListClusters
    (container_instance,) = instances(1)
    ecs_cluster_on_ec2("on-ec2", [container_instance])
    (node,) = instances(1, tags={"eks:cluster-name": "k8s"})
    denied = refuse_when("before-call.ecs.ListClusters", "", "AccessDeniedException", "not authorized", 400)
    clients = ClientFactory(boto3.Session(), settings=settings, hooks=[denied])

    # When EC2 is collected
    backdate(REGION, HOUR - timedelta(days=1))
    outcome = collect_region(clients, REGION, [COLLECTORS[Service.EC2]], connection_for(REGION), [HOUR])

    # Then both instances are metered; only the ECS label, which needed the refused call, is missing
    assert not outcome.failed
    labels = {r.resource_id: r.details.cluster for r in outcome.records}
    assert labels == {container_instance: None, node: "k8s"}
