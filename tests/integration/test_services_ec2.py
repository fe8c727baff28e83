"""EC2 collection on the embedded AWS: discovery, sizing, metric requests and usage records."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import Service
from carbonmeter.services import ec2

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


@functools.cache
def image_id(region: str, architecture: str) -> str:
    """An image moto ships in every run (listing its images is slow, so look once)."""
    client = boto3.client("ec2", region_name=region)
    images = client.describe_images(Owners=["amazon"], Filters=[{"Name": "architecture", "Values": [architecture]}])
    return str(images["Images"][0]["ImageId"])


def launch(region: str, instance_type: str, *, architecture: str = "x86_64", tags: dict[str, str] | None = None) -> str:
    client = boto3.client("ec2", region_name=region)
    params: dict[str, Any] = {
        "ImageId": image_id(region, architecture),
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": instance_type,
    }
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return str(client.run_instances(**params)["Instances"][0]["InstanceId"])


def put_metric(region: str, name: str, instance_id: str, values: list[float]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Timestamp": HOUR + timedelta(minutes=5 * index),
                "Value": value,
            }
            for index, value in enumerate(values)
        ],
    )


def test_discovers_running_instances_tagged_or_not_sized_by_their_type(clients: ClientFactory, region: str):
    # Given tagged, untagged, Graviton and GPU instances running, and one stopped
    general = launch(region, "m5.large", tags={"team": "web"})
    untagged = launch(region, "c5.xlarge")
    graviton = launch(region, "m6g.large", architecture="arm64")
    gpu = launch(region, "g4dn.xlarge")
    stopped = launch(region, "m5.large")
    boto3.client("ec2", region_name=region).stop_instances(InstanceIds=[stopped])

    # When EC2 is discovered
    resources = {resource.resource_id: resource for resource in ec2.COLLECTOR.discover(clients, region)}

    # Then the running ones are found with what DescribeInstanceTypes says about their type
    assert set(resources) == {general, untagged, graviton, gpu}
    sizes = {
        resource.resource_type: {
            key: resource.attributes[key] for key in ("vcpus", "memory_gib", "gpus", "architecture")
        }
        for resource in resources.values()
    }
    assert sizes == {
        "m5.large": {"vcpus": 2, "memory_gib": 8.0, "gpus": 0, "architecture": "x86_64"},
        "c5.xlarge": {"vcpus": 4, "memory_gib": 8.0, "gpus": 0, "architecture": "x86_64"},
        "m6g.large": {"vcpus": 2, "memory_gib": 8.0, "gpus": 0, "architecture": "arm64"},
        "g4dn.xlarge": {"vcpus": 4, "memory_gib": 16.0, "gpus": 1, "architecture": "x86_64"},
    }


def test_instance_types_are_described_in_batches(
    aws: None, settings, counter: ApiCallCounter, monkeypatch: pytest.MonkeyPatch
):
    # Given five distinct instance types running, and batches shrunk from AWS's 100 to 2
    monkeypatch.setattr(ec2, "TYPES_PER_CALL", 2)
    clients = ClientFactory(boto3.Session(), settings=settings, counter=counter)
    types = ["c5.large", "m5.large", "m5.xlarge", "r5.large", "t3.micro"]
    for instance_type in [*types, "m5.large"]:
        launch("us-east-1", instance_type)

    # When EC2 is discovered
    resources = ec2.COLLECTOR.discover(clients, "us-east-1")

    # Then three DescribeInstanceTypes calls sized every distinct type once
    assert counter.calls["ec2:DescribeInstanceTypes"] == 3
    assert sorted(resource.resource_type for resource in resources) == sorted([*types, "m5.large"])
    assert all(resource.attributes["vcpus"] > 0 for resource in resources)


def test_requests_hourly_cpu_average_and_network_out_sum(clients: ClientFactory):
    instance_id = launch("eu-west-1", "m5.large")
    (resource,) = ec2.COLLECTOR.discover(clients, "eu-west-1")

    requests = ec2.COLLECTOR.metric_requests(resource, HOUR)

    dimensions = (("InstanceId", instance_id),)
    end = HOUR + timedelta(hours=1)
    assert requests == [
        MetricRequest("AWS/EC2", "CPUUtilization", dimensions, "Average", 3600, HOUR, end),
        MetricRequest("AWS/EC2", "NetworkOut", dimensions, "Sum", 3600, HOUR, end),
    ]


def test_turns_metrics_into_usage_records(collect, counter: ApiCallCounter):
    # Given two instances, only one of which has metrics for the hour
    busy = launch("eu-west-1", "m6g.large", architecture="arm64")
    quiet = launch("eu-west-1", "m5.large")
    put_metric("eu-west-1", "CPUUtilization", busy, [20.0, 40.0])
    put_metric("eu-west-1", "NetworkOut", busy, [1e6, 2e6, 3e6])
    put_metric("eu-west-1", "CPUUtilization", busy, [99.0])  # at 10:00 too: averaged in

    # When the hour is collected
    records = {record.resource_id: record for record in collect(ec2.COLLECTOR, "eu-west-1", HOUR)}

    # Then the busy one carries its average CPU and summed bytes out; the quiet one has no CPU figure
    assert records[busy].model_dump(include={"service", "resource_type", "vcpus", "memory_gib", "gpus"}) == {
        "service": Service.EC2,
        "resource_type": "m6g.large",
        "vcpus": 2,
        "memory_gib": 8.0,
        "gpus": 0,
    }
    assert records[busy].architecture == "arm64"
    assert records[busy].cpu_utilization_pct == (20.0 + 40.0 + 99.0) / 3
    assert records[busy].network_out_bytes == 6e6
    assert records[busy].hour == HOUR
    assert (records[busy].connection_id, records[busy].account_id) == ("acme-prod", "123456789012")
    assert records[quiet].cpu_utilization_pct is None
    assert records[quiet].network_out_bytes == 0.0
    assert counter.metrics_requested == 4
