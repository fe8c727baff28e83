"""The embedded AWS, CarbonMeter's resources on it, and the seeded demo account, checked through plain boto3."""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from carbonmeter.aws import ClientFactory
from carbonmeter.models import GLOBAL_REGION, Service
from carbonmeter.settings import Settings
from devtools.aws.resources import MAX_RECEIVE_COUNT, create_resources
from devtools.aws.server import DEFAULT_ACCOUNT_ID, EmbeddedAwsError, embedded_aws
from devtools.seed import DEFAULT_REGIONS, READ_ONLY_ROLE_NAME, DemoAccount, seed_demo_account, seed_fleet
from devtools.services import DEVTOOLS_SERVICES

START = datetime(2024, 5, 1, tzinfo=UTC)
HOURS = [START + timedelta(hours=n) for n in range(48)]
END = HOURS[-1] + timedelta(hours=1)


@pytest.fixture
def demo() -> Iterator[tuple[Settings, DemoAccount]]:
    # Function scope on purpose: fixtures that reset AWS_* variables around each test would
    # otherwise undo the embedded AWS's environment while it still runs.
    with embedded_aws():
        clients = ClientFactory()
        settings = create_resources(clients, Settings())
        account = seed_demo_account(clients, DEFAULT_REGIONS, HOURS)
        yield settings, account


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page[key]]


def _series(
    region: str, namespace: str, metric: str, dimensions: dict[str, str], stat: str, period: int = 3600
) -> dict[datetime, float]:
    result = boto3.client("cloudwatch", region_name=region).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
                    },
                    "Period": period,
                    "Stat": stat,
                },
            }
        ],
        StartTime=START - timedelta(days=1),
        EndTime=END,
    )["MetricDataResults"][0]
    return {stamp.astimezone(UTC): value for stamp, value in zip(result["Timestamps"], result["Values"], strict=True)}


def test_embedded_aws_routes_every_client_to_localhost_and_restores_the_environment(monkeypatch):
    # Given a shell configured for a real account
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.com")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = dict(os.environ)

    # When the embedded AWS runs
    with embedded_aws(region="eu-west-1") as endpoint:
        # Then clients of every service reach it on 127.0.0.1 with fake credentials
        url = urlparse(endpoint)
        assert url.hostname == "127.0.0.1"
        assert url.port
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL_S3" not in os.environ
        for service in ("sts", "cloudwatch", "s3", "ec2", "lambda", "rds", "elasticache", "iam", "dynamodb", "sqs"):
            assert boto3.client(service).meta.endpoint_url == endpoint
        assert boto3.client("sts").get_caller_identity()["Account"] == DEFAULT_ACCOUNT_ID
        assert boto3.Session().region_name == "eu-west-1"

    # And afterwards the environment is as it was and the port is closed
    assert dict(os.environ) == before
    with pytest.raises(ConnectionRefusedError), socket.create_connection((url.hostname, url.port), timeout=1):
        pass


def test_embedded_aws_refuses_requests_bound_elsewhere():
    with embedded_aws():
        remote = boto3.client("s3", endpoint_url="https://s3.us-east-1.amazonaws.com")
        with pytest.raises(EmbeddedAwsError, match="outside the embedded AWS"):
            remote.list_buckets()


def test_each_embedded_aws_starts_with_an_empty_account():
    with embedded_aws():
        boto3.client("s3").create_bucket(Bucket="left-behind")
    with embedded_aws():
        assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_queries_on_the_embedded_aws_return_what_dynamodb_would():
    # Given a table with several partitions and an index (the embedded AWS reads only the queried partition)
    with embedded_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="records",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": attribute, "AttributeType": "S"} for attribute in ("pk", "sk", "kind")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-kind",
                    "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for pk in ("b", "a", "c"):
            for sk in ("3", "1", "2"):
                item = {"pk": {"S": pk}, "sk": {"S": sk}, "kind": {"S": "odd" if int(sk) % 2 else "even"}}
                dynamodb.put_item(TableName="records", Item=item)

        def keys(**query: Any) -> list[tuple[str, str]]:
            items = dynamodb.query(TableName="records", **query)["Items"]
            return [(item["pk"]["S"], item["sk"]["S"]) for item in items]

        # When a partition is queried, forwards, backwards, with a key condition and a page limit
        partition = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "b"}}}
        # Then it holds its own items only, in sort-key order
        assert keys(**partition) == [("b", "1"), ("b", "2"), ("b", "3")]
        assert keys(**partition, ScanIndexForward=False) == [("b", "3"), ("b", "2"), ("b", "1")]
        assert keys(**partition, Limit=2) == [("b", "1"), ("b", "2")]
        ranged = {":pk": {"S": "c"}, ":sk": {"S": "2"}}
        assert keys(KeyConditionExpression="pk = :pk AND sk >= :sk", ExpressionAttributeValues=ranged) == [
            ("c", "2"),
            ("c", "3"),
        ]
        # And a query on an index still spans every partition
        by_kind = keys(
            IndexName="by-kind",
            KeyConditionExpression="kind = :kind",
            ExpressionAttributeValues={":kind": {"S": "even"}},
        )
        assert sorted(by_kind) == [("a", "2"), ("b", "2"), ("c", "2")]


def test_resources_match_the_stack_and_the_connection_role_is_assumable(demo):
    settings, account = demo
    _assert_connection_role_is_assumable_with_its_external_id(account)
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    keys = {
        name: {key["AttributeName"]: key["KeyType"] for key in table["KeySchema"]}
        for name in (settings.connections_table, settings.usage_table, settings.emissions_table)
        for table in [dynamodb.describe_table(TableName=name)["Table"]]
    }
    assert keys == {
        settings.connections_table: {"connection_id": "HASH"},
        settings.usage_table: {"pk": "HASH", "sk": "RANGE"},
        settings.emissions_table: {"pk": "HASH", "sk": "RANGE"},
    }
    table = dynamodb.describe_table(TableName=settings.usage_table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    sqs = boto3.client("sqs", region_name=settings.region)
    for url in (settings.collect_queue_url, settings.calculate_queue_url):
        redrive = json.loads(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
        )
        assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT
        assert redrive["deadLetterTargetArn"].endswith("-dlq")

    # Re-running is harmless and finds the same queues
    again = create_resources(ClientFactory(), Settings())
    assert (again.collect_queue_url, again.calculate_queue_url) == (
        settings.collect_queue_url,
        settings.calculate_queue_url,
    )


def _assert_connection_role_is_assumable_with_its_external_id(account: DemoAccount) -> None:
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=READ_ONLY_ROLE_NAME)["Role"]
    assert role["Arn"] == account.role_arn
    condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"sts:ExternalId": account.external_id}}
    policy = iam.get_role_policy(RoleName=READ_ONLY_ROLE_NAME, PolicyName="CarbonMeterRead")["PolicyDocument"]
    assert "cloudwatch:GetMetricData" in policy["Statement"][0]["Action"]

    credentials = boto3.client("sts").assume_role(
        RoleArn=account.role_arn, RoleSessionName="test", ExternalId=account.external_id
    )["Credentials"]
    assumed = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert assumed.client("sts").get_caller_identity()["Account"] == account.account_id == DEFAULT_ACCOUNT_ID


def test_fleet_exists_in_every_region_as_reported(demo):
    settings, account = demo
    assert len(account.regions) >= 3
    for region in account.regions:
        ec2 = boto3.client("ec2", region_name=region)
        instances = [
            instance
            for reservation in _pages(ec2, "describe_instances", "Reservations")
            for instance in reservation["Instances"]
        ]
        running = {i["InstanceId"] for i in instances if i["State"]["Name"] == "running"}
        stopped = {i["InstanceId"] for i in instances if i["State"]["Name"] == "stopped"}
        # (and the one terminated within the last hour, still listed)
        ended = {i["InstanceId"] for i in instances if i["State"]["Name"] == "terminated"}
        assert running | ended == set(account.resources[region][Service.EC2])
        assert len(ended) == 1
        assert stopped == set(account.stopped_instances[region]) != set()
        types = Counter(i["InstanceType"] for i in instances)
        # EC2's groups, and the EKS cluster's Graviton nodes
        assert set(types) == {"m5.large", "c6g.xlarge", "t3.medium", "r5.2xlarge", "m7i.large", "m6g.large"}
        assert {i["Architecture"] for i in instances if i["InstanceType"] == "c6g.xlarge"} == {"arm64"}
        untagged = [i for i in instances if not i.get("Tags")]
        assert len(untagged) > len(instances) / 2

        volumes = _pages(ec2, "describe_volumes", "Volumes")
        assert {v["VolumeId"] for v in volumes} == set(account.resources[region][Service.EBS])
        assert {"gp3", "gp2", "io1", "st1", "sc1"} <= {v["VolumeType"] for v in volumes}
        assert {bool(v["Attachments"]) for v in volumes} == {True, False}

        s3 = boto3.client("s3", region_name=region)
        for bucket in account.resources[region][Service.S3]:
            location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] or "us-east-1"
            assert location == region

        databases = boto3.client("rds", region_name=region).describe_db_instances()["DBInstances"]
        assert {d["DBInstanceIdentifier"] for d in databases} == set(account.resources[region][Service.RDS])
        assert {(d["Engine"], d["MultiAZ"], d["StorageType"]) for d in databases} == {
            ("mysql", False, "gp2"),
            ("postgres", True, "io1"),
        }

        functions = _pages(boto3.client("lambda", region_name=region), "list_functions", "Functions")
        assert {f["FunctionName"] for f in functions} == set(account.resources[region][Service.LAMBDA])
        assert {f["Architectures"][0] for f in functions} == {"x86_64", "arm64"}
        assert len({f["MemorySize"] for f in functions}) > 2

        # The demo's tables, and in CarbonMeter's home region its own, deployed into the same (moto) account
        tables = _pages(boto3.client("dynamodb", region_name=region), "list_tables", "TableNames")
        assert set(tables) == set(account.resources[region][Service.DYNAMODB])
        own = {settings.connections_table, settings.usage_table, settings.emissions_table}
        assert own & set(tables) == (own if region == settings.region else set())

    assert account.count() == sum(sum(by_service.values()) for by_service in account.counts.values())


def test_every_service_has_its_cloudwatch_history(demo):
    _, account = demo
    _assert_instances_have_48_hours_of_diurnal_cpu_and_network(account)
    _assert_databases_and_functions_have_hourly_metrics(account)
    _assert_buckets_report_daily_sizes_per_storage_class(account)


def _assert_instances_have_48_hours_of_diurnal_cpu_and_network(account: DemoAccount) -> None:
    region = account.regions[0]
    instance = account.resources[region][Service.EC2][0]

    cpu = _series(region, "AWS/EC2", "CPUUtilization", {"InstanceId": instance}, "Average")
    network = _series(region, "AWS/EC2", "NetworkOut", {"InstanceId": instance}, "Sum")

    assert sorted(cpu) == HOURS
    assert all(5 <= value <= 80 for value in cpu.values())
    assert max(cpu.values()) - min(cpu.values()) > 5
    assert sorted(network) == HOURS
    assert all(value > 0 for value in network.values())
    stopped = account.stopped_instances[region][0]
    assert _series(region, "AWS/EC2", "CPUUtilization", {"InstanceId": stopped}, "Average") == {}


def _assert_databases_and_functions_have_hourly_metrics(account: DemoAccount) -> None:
    region = account.regions[1]
    database = account.resources[region][Service.RDS][0]
    assert sorted(_series(region, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": database}, "Average")) == HOURS

    for function in account.resources[region][Service.LAMBDA]:
        dimensions = {"FunctionName": function}
        invocations = _series(region, "AWS/Lambda", "Invocations", dimensions, "Sum")
        duration_sum = _series(region, "AWS/Lambda", "Duration", dimensions, "Sum")
        duration_avg = _series(region, "AWS/Lambda", "Duration", dimensions, "Average")
        assert len(invocations) == 48
        assert invocations.keys() == duration_sum.keys()
        hour = next(iter(invocations))
        assert duration_avg[hour] == pytest.approx(duration_sum[hour] / invocations[hour])


def _assert_buckets_report_daily_sizes_per_storage_class(account: DemoAccount) -> None:
    region = account.regions[2]
    bucket = account.resources[region][Service.S3][0]
    days = [START - timedelta(days=1), START, START + timedelta(days=1)]

    standard = _series(
        region, "AWS/S3", "BucketSizeBytes", {"StorageType": "StandardStorage", "BucketName": bucket}, "Average", 86400
    )

    assert sorted(standard) == days
    assert all(value > 1e9 for value in standard.values())
    for storage_type in ("StandardIAStorage", "GlacierStorage"):
        dimensions = {"StorageType": storage_type, "BucketName": bucket}
        assert len(_series(region, "AWS/S3", "BucketSizeBytes", dimensions, "Average", 86400)) == 3


# Big enough for the smallest share (5 %) to give every service at least one resource in each of two regions.
FLEET = 90


def test_seed_fleet_creates_exactly_the_requested_resources_deterministically():
    regions = ("us-east-1", "eu-west-1")
    hours = HOURS[:3]

    def seeded_cpu() -> tuple[DemoAccount, list[float]]:
        with embedded_aws():
            account = seed_fleet(ClientFactory(), regions, FLEET, hours, rng_seed=11)
            instance = account.resources["eu-west-1"][Service.EC2][0]
            cpu = _series("eu-west-1", "AWS/EC2", "CPUUtilization", {"InstanceId": instance}, "Average")
            return account, [cpu[hour] for hour in hours]

    first, first_cpu = seeded_cpu()
    second, second_cpu = seeded_cpu()

    # Every service with a share of the mixed fleet (EBS rides on EC2 with a share of 0)
    metric_bearing = [service for service, part in DEVTOOLS_SERVICES.items() if part.fleet_share > 0]
    assert sum(first.count(service) for service in metric_bearing) == FLEET
    # each in every region, or (a global service) once in ``global`` for the whole account
    areas = {
        service: (GLOBAL_REGION,) if DEVTOOLS_SERVICES[service].is_global else regions for service in metric_bearing
    }
    assert {first.count(service, area) > 0 for service in metric_bearing for area in areas[service]} == {True}
    assert first.count(Service.EBS) == first.count(Service.EC2)
    assert first.counts == second.counts
    assert first_cpu == second_cpu
