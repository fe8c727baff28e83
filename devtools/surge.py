"""The demo's one anomaly: a batch of EC2 instances launched for four hours near the end of the run, then ended.

It happens between the demo's hours (``before`` is called before each hour is run), so the hours before it and
after it collect the seeded fleet alone: the EC2 series of its region jumps in CO2e and in its count of
resources, and so does EBS's count (the instances' root volumes), which the report's anomalies part shows.
The instances, their metrics and their hours are fixed: the demo prints the same anomalies every run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR
from devtools.services.ec2 import put_instance_metrics
from devtools.services.metrics import MetricWriter, Profile

SURGE_HOURS = 4
# The surge needs the same hour of a day before it (the detector's hour-of-day model) and a few hours after.
HOURS_BEFORE = 24
HOURS_AFTER = 3
SURGE_INSTANCES = 10
SURGE_INSTANCE_TYPE = "m5.xlarge"
# A busy batch: 70 % CPU, no daily swing.
SURGE_PROFILE = Profile(base=70.0, swing=0.0, peak_hour=0.0)


@dataclass
class DemoSurge:
    region: str
    start: datetime
    end: datetime
    launched: list[str] = field(default_factory=list)

    def before(self, clients: ClientFactory, hour: datetime) -> None:
        """Launch the batch before its first hour is run, end it before the hour after its last."""
        if hour == self.start:
            self._launch(clients)
        elif hour == self.end and self.launched:
            clients.client("ec2", self.region).terminate_instances(InstanceIds=self.launched)

    def _launch(self, clients: ClientFactory) -> None:
        ec2 = clients.client("ec2", self.region)
        images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "architecture", "Values": ["x86_64"]}])
        image = min(image["ImageId"] for image in images["Images"])
        launched = ec2.run_instances(
            ImageId=image,
            InstanceType=SURGE_INSTANCE_TYPE,
            MinCount=SURGE_INSTANCES,
            MaxCount=SURGE_INSTANCES,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "batch"}]}],
        )["Instances"]
        self.launched = [instance["InstanceId"] for instance in launched]
        metrics = MetricWriter(clients.client("cloudwatch", self.region))
        hours = [self.start + k * HOUR for k in range(int((self.end - self.start) / HOUR))]
        rng = random.Random("demo-surge")
        for instance_id in self.launched:
            put_instance_metrics(metrics, instance_id, SURGE_PROFILE, hours, rng)
        metrics.flush()


def demo_surge(regions: Sequence[str], hours: Sequence[datetime]) -> DemoSurge | None:
    """The surge of a demo run over ``hours``, in its first region; None when the run is too short for one."""
    if not regions or len(hours) < HOURS_BEFORE + SURGE_HOURS + HOURS_AFTER:
        return None
    start = hours[-(SURGE_HOURS + HOURS_AFTER)]
    return DemoSurge(region=regions[0], start=start, end=start + timedelta(hours=SURGE_HOURS))
