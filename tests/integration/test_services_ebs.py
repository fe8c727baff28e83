"""EBS collection on the embedded AWS: every volume, attached or not, sized in decimal GB."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.models import Service
from carbonmeter.services import ebs

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_discovers_attached_and_unattached_volumes(clients: ClientFactory, region: str):
    # Given an unattached untagged volume, a tagged one, and one attached to an instance
    client = boto3.client("ec2", region_name=region)
    zone = f"{region}a"
    loose = client.create_volume(AvailabilityZone=zone, Size=100, VolumeType="gp3")["VolumeId"]
    tagged = client.create_volume(
        AvailabilityZone=zone,
        Size=500,
        VolumeType="st1",
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "data"}]}],
    )["VolumeId"]
    attached = client.create_volume(AvailabilityZone=zone, Size=20, VolumeType="io2", Iops=1000)["VolumeId"]
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = client.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]
    client.attach_volume(VolumeId=attached, InstanceId=instance["InstanceId"], Device="/dev/sdf")

    # When EBS is discovered
    resources = {resource.resource_id: resource for resource in ebs.SLICE.discover(clients, region)}

    # Then all of them are found (the instance's root volume too), with their type and size
    assert {loose, tagged, attached} < set(resources)
    assert len(resources) == 4
    assert [(resources[v].resource_type, resources[v].attributes["size_gib"]) for v in (loose, tagged, attached)] == [
        ("gp3", 100),
        ("st1", 500),
        ("io2", 20),
    ]
    assert resources[attached].attributes["attached_to"] == (instance["InstanceId"],)
    assert ebs.SLICE.metric_requests(resources[loose], HOUR) == []


def test_records_provisioned_size_in_decimal_gb(collect, counter: ApiCallCounter):
    client = boto3.client("ec2", region_name="eu-west-1")
    volume = client.create_volume(AvailabilityZone="eu-west-1b", Size=100, VolumeType="gp3")["VolumeId"]

    (record,) = collect(ebs.SLICE, "eu-west-1", HOUR)

    assert (record.service, record.resource_id, record.resource_type, record.details.storage_type) == (
        Service.EBS,
        volume,
        "gp3",
        "gp3",
    )
    assert record.details.storage_gb == pytest.approx(107.3741824)
    assert counter.metrics_requested == 0
    assert "monitoring:GetMetricData" not in counter.calls


def test_records_whether_a_volume_is_attached_to_anything(collect):
    # Given a volume attached to nothing and one attached to an instance
    client = boto3.client("ec2", region_name="eu-west-1")
    loose = client.create_volume(AvailabilityZone="eu-west-1a", Size=10, VolumeType="gp3")["VolumeId"]
    attached = client.create_volume(AvailabilityZone="eu-west-1a", Size=10, VolumeType="gp3")["VolumeId"]
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = client.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]
    client.attach_volume(VolumeId=attached, InstanceId=instance["InstanceId"], Device="/dev/sdf")
    # When the hour is collected
    states = {record.resource_id: record.details.state for record in collect(ebs.SLICE, "eu-west-1", HOUR)}
    # Then each record keeps the volume's state, which the recommendations read to find unattached ones
    assert (states[loose], states[attached]) == ("available", "in-use")
