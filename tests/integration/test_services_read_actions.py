"""Each service declares exactly the IAM actions its collection calls: the customer role is built from them."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter
from carbonmeter.models import GLOBAL_REGION, Service
from carbonmeter.services import COLLECTORS, COMMON_READ_ACTIONS, READ_ACTIONS
from devtools.aws.iam.requests import iam_action
from tests.support.cloudfront import distribution_config

REGION = "eu-west-1"
HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def an_instance() -> None:
    """An instance registered in an ECS cluster: EC2 lists the container instances to name its cluster."""
    client = boto3.client("ec2", region_name=REGION)
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = client.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")["Instances"][0]
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="on-ec2")
    ecs.register_container_instance(
        cluster="on-ec2", instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]})
    )


def a_volume() -> None:
    boto3.client("ec2", region_name=REGION).create_volume(AvailabilityZone=f"{REGION}a", Size=10)


def a_bucket() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="inventory", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "BucketSizeBytes",
                "Dimensions": [
                    {"Name": "StorageType", "Value": "StandardStorage"},
                    {"Name": "BucketName", "Value": "inventory"},
                ],
                "Timestamp": HOUR.replace(hour=0),
                "Value": 1e6,
            }
        ],
    )


def a_database() -> None:
    boto3.client("rds", region_name=REGION).create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )


def a_function() -> None:
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="fn", AssumeRolePolicyDocument="{}")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": package.getvalue()},
    )


def a_cache_cluster() -> None:
    boto3.client("elasticache", region_name=REGION).create_cache_cluster(
        CacheClusterId="sessions", Engine="redis", CacheNodeType="cache.r6g.large", NumCacheNodes=1
    )


def an_api() -> None:
    boto3.client("apigateway", region_name=REGION).create_rest_api(name="orders")
    boto3.client("apigatewayv2", region_name=REGION).create_api(Name="web", ProtocolType="HTTP")


def a_table() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def a_warehouse() -> None:
    boto3.client("redshift", region_name=REGION).create_cluster(
        ClusterIdentifier="reports",
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="admin",
        MasterUserPassword="Not-a-secret-1",
    )


def a_fargate_service_and_task() -> None:
    """A Fargate service (ListServices, DescribeServices) and a task outside it (ListTasks, DescribeTasks)."""
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    network = {
        "awsvpcConfiguration": {
            "subnets": [ec2.describe_subnets()["Subnets"][0]["SubnetId"]],
            "securityGroups": [ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]],
        }
    }
    ecs.create_cluster(clusterName="web")
    ecs.register_task_definition(
        family="api",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}],
    )
    ecs.create_service(
        cluster="web",
        serviceName="api",
        taskDefinition="api",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    ecs.run_task(cluster="web", taskDefinition="api", launchType="FARGATE", networkConfiguration=network)


def a_cluster_with_fargate_pods() -> None:
    """An EKS cluster with a Fargate profile: the slice reads ECS's Fargate workloads too."""
    a_fargate_service_and_task()
    eks = boto3.client("eks", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/eks"
    eks.create_cluster(name="k8s", roleArn=role, resourcesVpcConfig={"subnetIds": []})
    eks.create_fargate_profile(
        fargateProfileName="batch", clusterName="k8s", podExecutionRoleArn=role, selectors=[{"namespace": "batch"}]
    )


def a_distribution() -> None:
    boto3.client("cloudfront", region_name=REGION).create_distribution(DistributionConfig=distribution_config("site"))


SEED: dict[Service, Callable[[], None]] = {
    Service.EC2: an_instance,
    Service.EBS: a_volume,
    Service.S3: a_bucket,
    Service.RDS: a_database,
    Service.LAMBDA: a_function,
    Service.ELASTICACHE: a_cache_cluster,
    Service.APIGATEWAY: an_api,
    Service.DYNAMODB: a_table,
    Service.REDSHIFT: a_warehouse,
    Service.ECS: a_fargate_service_and_task,
    Service.EKS: a_cluster_with_fargate_pods,
    Service.CLOUDFRONT: a_distribution,
}


@pytest.mark.parametrize("service", list(Service))
def test_collection_calls_exactly_the_declared_actions(
    service: Service, clients, counter: ApiCallCounter, collect, no_instance_type_snapshot
):
    # Given one resource of the service, created by an unmetered client, and its instance types not in the snapshot
    # (ec2:DescribeInstanceTypes stays declared: types newer than the snapshot are still asked)
    SEED[service]()
    collector = COLLECTORS[service]

    # When an hour of it is collected (a global service's once, in ``global``)
    records = collect(collector, GLOBAL_REGION if collector.is_global else REGION, HOUR)
    called = {_iam_action(call) for call in counter.calls}

    # Then the calls made are the declared actions, plus GetMetricData when metrics were read
    assert records
    assert called - set(COMMON_READ_ACTIONS) == set(collector.read_actions)
    assert called <= set(READ_ACTIONS)


def test_every_service_is_registered_and_the_role_only_reads():
    assert set(COLLECTORS) == set(Service)
    # API Gateway's actions are its management API's HTTP methods: GET reads
    verbs = {action.split(":")[1] for action in READ_ACTIONS}
    assert all(verb.startswith(("Describe", "List", "Get")) or verb == "GET" for verb in verbs)
    assert len(READ_ACTIONS) == len(set(READ_ACTIONS))


def _iam_action(call: str) -> str:
    return iam_action(*call.split(":"))
