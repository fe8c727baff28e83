"""EC2 collection on the embedded AWS: discovery, sizing, metric requests and usage records."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import estimate
from carbonmeter.models import Service, UsageRecord
from carbonmeter.services import COLLECTORS, ec2, instance_types

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
    resources = {resource.resource_id: resource for resource in ec2.SLICE.discover(clients, region)}

    # Then all are found, the stopped one with the time it stopped (it may have run in a past hour), sized by
    # what DescribeInstanceTypes says about their type
    assert set(resources) == {general, untagged, graviton, gpu, stopped}
    assert resources[stopped].attributes["state"] == "stopped"
    assert resources[stopped].ended_at is not None
    assert resources[general].ended_at is None
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
    aws: None, settings, counter: ApiCallCounter, monkeypatch: pytest.MonkeyPatch, no_instance_type_snapshot
):
    # Given five distinct instance types running, none in the snapshot, and batches shrunk from AWS's 100 to 2
    monkeypatch.setattr(instance_types, "TYPES_PER_CALL", 2)
    clients = ClientFactory(boto3.Session(), settings=settings, counter=counter)
    types = ["c5.large", "m5.large", "m5.xlarge", "r5.large", "t3.micro"]
    for instance_type in [*types, "m5.large"]:
        launch("us-east-1", instance_type)

    # When EC2 is discovered
    resources = ec2.SLICE.discover(clients, "us-east-1")

    # Then three DescribeInstanceTypes calls sized every distinct type once
    assert counter.calls["ec2:DescribeInstanceTypes"] == 3
    assert sorted(resource.resource_type for resource in resources) == sorted([*types, "m5.large"])
    assert all(resource.attributes["vcpus"] > 0 for resource in resources)


def test_a_warm_collector_asks_for_instance_types_once_for_ec2_rds_and_every_later_hour(
    aws: None, settings, counter: ApiCallCounter, no_instance_type_snapshot
):
    # Given an m5.large instance and a db.m5.large database in one region, m5.large not in the snapshot
    clients = ClientFactory(boto3.Session(), settings=settings, counter=counter)
    launch("us-east-1", "m5.large")
    boto3.client("rds", region_name="us-east-1").create_db_instance(
        DBInstanceIdentifier="db", DBInstanceClass="db.m5.large", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="password-1234",
    )  # fmt: skip

    # When EC2 and RDS are discovered, then both again an hour later in the same container
    for _ in range(2):
        instances = ec2.SLICE.discover(clients, "us-east-1")
        databases = COLLECTORS[Service.RDS].discover(clients, "us-east-1")

    # Then the type was described once in the region, and both slices sized from that answer
    assert counter.calls["ec2:DescribeInstanceTypes"] == 1
    assert instances[0].attributes["vcpus"] == 2
    assert databases[0].attributes["vcpus"] == 2


def test_types_in_the_snapshot_are_sized_as_ec2_describes_them_without_asking(
    aws: None, settings, counter: ApiCallCounter
):
    # Given instances of types the layer's snapshot holds: general, Graviton, GPU, burstable
    clients = ClientFactory(boto3.Session(), settings=settings, counter=counter)
    launch("us-east-1", "m5.large")
    launch("us-east-1", "m6g.large", architecture="arm64")
    launch("us-east-1", "g4dn.xlarge")
    launch("us-east-1", "t3.micro")

    # When EC2 is discovered
    resources = ec2.SLICE.discover(clients, "us-east-1")

    # Then no DescribeInstanceTypes call was made, and each is sized as EC2's own answer for its type says
    assert "ec2:DescribeInstanceTypes" not in counter.calls
    answer = boto3.client("ec2", region_name="us-east-1").describe_instance_types(
        InstanceTypes=[resource.resource_type for resource in resources]
    )
    described = {info["InstanceType"]: instance_types.instance_type_spec(info) for info in answer["InstanceTypes"]}
    fields = ("vcpus", "memory_gib", "gpus", "gpu_model", "cpu_manufacturer", "clock_ghz", "burstable")
    for resource in resources:
        spec = described[resource.resource_type]
        assert {field: resource.attributes[field] for field in fields} == {field: spec[field] for field in fields}


def test_requests_hourly_cpu_average_and_sample_count_and_network_out_sum(clients: ClientFactory):
    instance_id = launch("eu-west-1", "m5.large")
    (resource,) = ec2.SLICE.discover(clients, "eu-west-1")

    requests = ec2.SLICE.metric_requests(resource, HOUR)

    dimensions = (("InstanceId", instance_id),)
    end = HOUR + timedelta(hours=1)
    assert requests == [
        MetricRequest("AWS/EC2", "CPUUtilization", dimensions, "Average", 3600, HOUR, end),
        MetricRequest("AWS/EC2", "CPUUtilization", dimensions, "SampleCount", 3600, HOUR, end),
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
    records = {record.resource_id: record for record in collect(ec2.SLICE, "eu-west-1", HOUR)}

    # Then the busy one carries its average CPU and summed bytes out; the quiet one has no CPU figure
    assert {
        **records[busy].model_dump(include={"service", "resource_type"}),
        **records[busy].details.model_dump(include={"vcpus", "memory_gib", "gpus"}),
    } == {
        "service": Service.EC2,
        "resource_type": "m6g.large",
        "vcpus": 2,
        "memory_gib": 8.0,
        "gpus": 0,
    }
    assert records[busy].details.architecture == "arm64"
    assert records[busy].details.cpu_utilization_pct == (20.0 + 40.0 + 99.0) / 3
    assert records[busy].network_out_bytes == 6e6
    assert records[busy].hour == HOUR
    assert (records[busy].connection_id, records[busy].account_id) == ("acme-prod", "123456789012")
    assert records[quiet].details.cpu_utilization_pct is None
    assert records[quiet].network_out_bytes == 0.0
    assert counter.metrics_requested == 4


def test_discovery_reports_the_hardware_the_methodology_needs(clients: ClientFactory):
    # Given types newer than the emission data (Sapphire Rapids, Graviton3, Graviton4, EPYC 4th Gen),
    # a GPU type and a burstable one
    types = ["m7i.large", "c7g.large", "r8g.large", "m7a.large", "g4dn.xlarge", "t3.micro"]
    for instance_type in types:
        launch("us-east-1", instance_type, architecture="arm64" if "g." in instance_type else "x86_64")

    # When EC2 is discovered
    found = {r.resource_type: r.attributes for r in ec2.SLICE.discover(clients, "us-east-1")}

    # Then DescribeInstanceTypes' processor, GPU and burstable facts travel with each instance
    hardware = {
        name: (a["cpu_manufacturer"], a["gpu_model"], a["burstable"], a["architecture"]) for name, a in found.items()
    }
    assert hardware == {
        "m7i.large": ("Intel", None, False, "x86_64"),
        "c7g.large": ("AWS", None, False, "arm64"),
        "r8g.large": ("AWS", None, False, "arm64"),
        "m7a.large": ("AMD", None, False, "x86_64"),
        "g4dn.xlarge": ("Intel", "NVIDIA T4", False, "x86_64"),
        "t3.micro": ("Intel", None, True, "x86_64"),
    }
    assert all(a["clock_ghz"] > 0 for a in found.values())


def test_newer_families_collected_end_to_end_get_flagged_estimates(collect):
    # Given a Sapphire Rapids and a Graviton4 instance, both newer than the emission data
    m7i = launch("eu-west-1", "m7i.large")
    r8g = launch("eu-west-1", "r8g.large", architecture="arm64")

    # When the hour is collected and estimated
    records = {record.resource_id: estimate(record) for record in collect(ec2.SLICE, "eu-west-1", HOUR)}

    # Then each gets energy, embodied emissions and bounds, and says which substitution was made
    assert records[m7i].flags == (
        "instance_type_not_in_data",
        "microarchitecture_mapped:Sapphire Rapids->Cascade Lake",
        "utilisation_default_50pct",
        "embodied_from_sibling:m7i->m6i",
    )
    assert "microarchitecture_mapped:AWS Graviton4->AWS Graviton2" in records[r8g].flags
    for record in records.values():
        assert record.compute_kwh > 0
        assert record.memory_kwh > 0
        assert record.embodied_kgco2e > 0
        assert record.energy_kwh_range is not None
        assert record.energy_kwh_range.low < record.energy_kwh < record.energy_kwh_range.high


def test_every_type_describe_instance_types_returns_gets_an_estimate(aws: None):
    # Given every instance type the embedded EC2 knows (its catalogue mirrors AWS's DescribeInstanceTypes)
    client = boto3.client("ec2", region_name="us-east-1")
    infos = [
        info for page in client.get_paginator("describe_instance_types").paginate() for info in page["InstanceTypes"]
    ]
    assert len(infos) > 1000

    # When each is turned into a usage record the way the collector does, and estimated
    estimates = {}
    for info in infos:
        spec = instance_types.instance_type_spec(info)
        record = UsageRecord(
            connection_id="c",
            account_id="123456789012",
            hour=HOUR,
            region="us-east-1",
            service=Service.EC2,
            resource_id=f"i-{info['InstanceType']}",
            resource_type=info["InstanceType"],
            vcpus=spec["vcpus"],
            memory_gib=spec["memory_gib"],
            gpus=spec["gpus"],
            gpu_model=spec["gpu_model"],
            cpu_manufacturer=spec["cpu_manufacturer"],
            burstable=spec["burstable"],
        )
        estimates[info["InstanceType"]] = estimate(record)

    # Then every one has compute energy and embodied emissions, within its bounds
    for name, record in estimates.items():
        assert 0 < record.compute_kwh < 20, name
        assert record.embodied_kgco2e > 0, name
        assert record.energy_kwh_range is not None
        assert record.embodied_kgco2e_range is not None
        assert record.energy_kwh_range.low <= record.energy_kwh <= record.energy_kwh_range.high, name
    # and only Apple silicon (no published coefficients, no vendor fallback) is left on the AWS averages
    on_averages = {name for name, r in estimates.items() if "microarchitecture_unknown" in r.flags}
    assert on_averages
    assert all(name.startswith("mac") and not name.startswith("mac1") for name in on_averages), on_averages


def test_a_fractional_gpu_type_counts_its_share_of_the_gpu(clients: ClientFactory):
    # g6f.large carries 1/8 of an NVIDIA L4 (DescribeInstanceTypes: Count 0, GpuPartitionSize 0.125)
    launch("us-east-1", "g6f.large")

    (resource,) = ec2.SLICE.discover(clients, "us-east-1")

    assert (resource.attributes["gpus"], resource.attributes["gpu_model"]) == (0.125, "NVIDIA L4")
