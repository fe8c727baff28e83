"""Each service declares exactly the IAM actions its collection calls: the customer role is built from them."""

from __future__ import annotations

import io
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
    client = boto3.client("ec2", region_name=REGION)
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    client.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")


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


def a_distribution() -> None:
    boto3.client("cloudfront", region_name=REGION).create_distribution(DistributionConfig=distribution_config("site"))


SEED: dict[Service, Callable[[], None]] = {
    Service.EC2: an_instance,
    Service.EBS: a_volume,
    Service.S3: a_bucket,
    Service.RDS: a_database,
    Service.LAMBDA: a_function,
    Service.ELASTICACHE: a_cache_cluster,
    Service.CLOUDFRONT: a_distribution,
}


@pytest.mark.parametrize("service", list(Service))
def test_collection_calls_exactly_the_declared_actions(service: Service, clients, counter: ApiCallCounter, collect):
    # Given one resource of the service, created by an unmetered client
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
    assert all(action.split(":")[1].startswith(("Describe", "List", "Get")) for action in READ_ACTIONS)
    assert len(READ_ACTIONS) == len(set(READ_ACTIONS))


def _iam_action(call: str) -> str:
    return iam_action(*call.split(":"))
