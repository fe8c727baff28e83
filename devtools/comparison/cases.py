"""The compared EC2 instance-hours, and their usage records made by the EC2 collector on moto's emulator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import UsageRecord
from carbonmeter.services.base import HourContext, Resource
from carbonmeter.services.ec2 import COLLECTOR

# The hour every record is for; no figure depends on it.
COMPARED_HOUR = datetime(2025, 1, 1, tzinfo=UTC)
CONNECTION_ID = "comparison"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Case:
    """One EC2 instance-hour to compare: which type, where, and at which average CPU load."""

    instance_type: str
    region: str
    load_pct: float


# Families and generations of every CPU vendor (Intel, AMD, Graviton), burstable and GPU types, large and metal sizes,
# types newer than CCF's table and one that Boavizta does not know; three grids far apart (eu-north-1 ~9,
# us-east-1 ~380, ap-south-1 ~710 g/kWh in CCF's table) and three loads. m5.large, the methodology's worked example,
# runs in every region and at every load as the anchor.
CASES: tuple[Case, ...] = (
    Case("m5.large", "us-east-1", 10),
    Case("m5.large", "us-east-1", 50),
    Case("m5.large", "us-east-1", 90),
    Case("m5.large", "eu-north-1", 50),
    Case("m5.large", "ap-south-1", 50),
    Case("c5.large", "ap-south-1", 90),
    Case("r5.4xlarge", "eu-north-1", 10),
    Case("m5.metal", "us-east-1", 90),
    Case("m6i.8xlarge", "us-east-1", 50),
    Case("m7i.large", "ap-south-1", 10),
    Case("x1e.xlarge", "eu-north-1", 50),
    Case("i3.large", "us-east-1", 10),
    Case("u-6tb1.56xlarge", "us-east-1", 50),
    Case("m5a.xlarge", "eu-north-1", 90),
    Case("c6a.2xlarge", "ap-south-1", 50),
    Case("m7a.large", "us-east-1", 90),
    Case("m8a.2xlarge", "eu-north-1", 50),
    Case("m6g.xlarge", "us-east-1", 50),
    Case("m6g.xlarge", "ap-south-1", 10),
    Case("c7g.xlarge", "eu-north-1", 90),
    Case("r8g.2xlarge", "ap-south-1", 50),
    Case("t3.medium", "us-east-1", 10),
    Case("t3.medium", "ap-south-1", 90),
    Case("t4g.large", "eu-north-1", 50),
    Case("g4dn.xlarge", "us-east-1", 10),
    Case("g4dn.xlarge", "us-east-1", 90),
    Case("g5.xlarge", "ap-south-1", 50),
    Case("g6.xlarge", "eu-north-1", 50),
    Case("p3dn.24xlarge", "us-east-1", 50),
    Case("p4d.24xlarge", "ap-south-1", 90),
)


def usage_records(cases: Sequence[Case]) -> list[UsageRecord]:
    """One EC2 usage record per case, made by the EC2 collector from instances launched in moto's emulator."""
    with mock_aws():
        clients = ClientFactory()
        resources: dict[tuple[str, str], Resource] = {}
        for region in sorted({case.region for case in cases}):
            types = sorted({case.instance_type for case in cases if case.region == region})
            resources.update(_launched(clients, region, types))
    return [_usage(resources[(case.region, case.instance_type)], case) for case in cases]


def _launched(clients: ClientFactory, region: str, instance_types: Sequence[str]) -> dict[tuple[str, str], Resource]:
    ec2 = clients.client("ec2", region)
    # Any image will do: the emulator does not match images to architectures, and the collector reads the
    # architecture from the instance type.
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for instance_type in instance_types:
        ec2.run_instances(ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1)
    return {(region, resource.resource_type): resource for resource in COLLECTOR.discover(clients, region)}


def _usage(resource: Resource, case: Case) -> UsageRecord:
    # The hour's CloudWatch answer: one CPUUtilization average at the case's load, no network traffic.
    metrics = {
        request: [case.load_pct]
        for request in COLLECTOR.metric_requests(resource, COMPARED_HOUR)
        if request.metric_name == "CPUUtilization"
    }
    (record,) = COLLECTOR.usage(resource, metrics, HourContext(CONNECTION_ID, ACCOUNT_ID, COMPARED_HOUR))
    return record
