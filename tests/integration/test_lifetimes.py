"""What ran during the hour, for how long: EC2 instances charged the share of the hour they ran, instances that
ended in the hour charged even once DescribeInstances has forgotten them (the connection's inventory), and
nothing charged for an hour before a resource existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from carbonmeter.aws import ClientFactory
from carbonmeter.collect_step import collect_connection_hour
from carbonmeter.models import CollectJob, Connection, Service, UsageRecord
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore, UsageStore
from devtools.aws import lifetimes
from devtools.aws.resources import create_resources
from devtools.seed import seed_demo_account

REGION = "eu-west-1"
HOUR = datetime(2026, 11, 2, 10, tzinfo=UTC)
# When the hourly run collects HOUR: past its end and settling delay.
COLLECTED = HOUR + timedelta(hours=1, minutes=10)
ROLE = "arn:aws:iam::123456789012:role/CarbonMeterReadOnly"


@pytest.fixture
def settings(aws) -> Settings:
    setup = ClientFactory(settings=Settings(region="us-east-1"))
    settings = create_resources(setup, setup.settings)
    ConnectionStore(setup, settings.connections_table).put(
        Connection(
            connection_id="acme",
            role_arn=ROLE,
            external_id="acme-external-id",
            regions=(REGION,),
            services=(Service.EC2, Service.EBS),
        )
    )
    return settings


def launch(launched: datetime) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")["Instances"][0]
    instance_id = str(instance["InstanceId"])
    lifetimes.set_launch_time(REGION, instance_id, launched)
    for volume in ec2.describe_volumes()["Volumes"]:
        lifetimes.set_volume_created(REGION, volume["VolumeId"], launched)
    return instance_id


def report_cpu(instance_id: str, minutes: range) -> None:
    """Basic monitoring: one CPUUtilization reading every 5 minutes the instance ran."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": 40.0,
            }
            for minute in minutes
        ],
    )


def collect(settings: Settings, now: datetime) -> list[UsageRecord]:
    job = CollectJob(connection_id="acme", hour=HOUR)
    collect_connection_hour(job, ClientFactory(settings=settings), settings, now)
    return UsageStore(ClientFactory(settings=settings), settings.usage_table).read_hour("acme", HOUR)


def instance_hours(records: list[UsageRecord]) -> dict[str, float]:
    return {record.resource_id: record.hours for record in records if record.service == Service.EC2}


def test_an_instance_launched_at_minute_30_is_charged_half_an_hour(settings: Settings):
    # Given an instance launched at 10:30 that reported every 5 minutes from then on
    late = launch(HOUR + timedelta(minutes=30))
    report_cpu(late, range(30, 60, 5))

    # When the hour 10:00-11:00 is collected
    records = collect(settings, COLLECTED)

    # Then it is charged half an hour
    assert instance_hours(records) == {late: pytest.approx(0.5)}


def test_an_instance_launched_after_the_hour_without_readings_in_it_is_not_charged(settings: Settings):
    launch(HOUR + timedelta(hours=2))

    assert instance_hours(collect(settings, COLLECTED + timedelta(hours=2))) == {}


def terminated_at_minute_20(settings: Settings) -> str:
    instance_id = launch(HOUR - timedelta(days=1))
    report_cpu(instance_id, range(0, 20, 5))
    boto3.client("ec2", region_name=REGION).terminate_instances(InstanceIds=[instance_id])
    lifetimes.set_ended(REGION, instance_id, HOUR + timedelta(minutes=20))
    return instance_id


def test_an_instance_terminated_at_minute_20_is_charged_a_third_of_an_hour(settings: Settings):
    # Given an instance terminated at 10:20, which DescribeInstances still lists as terminated
    gone = terminated_at_minute_20(settings)

    # When the hour is collected after its termination
    records = collect(settings, COLLECTED)

    # Then it is charged the third of the hour it ran
    assert instance_hours(records) == {gone: pytest.approx(1 / 3)}


def test_a_re_collection_after_describe_instances_forgot_an_instance_gives_the_same_records(settings: Settings):
    # Given an instance terminated at 10:20, collected once while DescribeInstances listed it
    gone = terminated_at_minute_20(settings)
    first = collect(settings, COLLECTED)

    # When the hour is collected again two hours later, once DescribeInstances no longer lists it
    lifetimes.forget_instance(REGION, gone)
    again = collect(settings, COLLECTED + timedelta(hours=2))

    # Then the records are the same: the inventory remembered it
    assert gone in instance_hours(first)
    assert sorted(again, key=lambda r: r.resource_id) == sorted(first, key=lambda r: r.resource_id)


def test_an_hour_before_a_volume_was_created_charges_nothing_for_it(settings: Settings):
    # Given a volume created at 12:30, two and a half hours after the hour began
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=100, VolumeType="gp3")["VolumeId"]
    lifetimes.set_volume_created(REGION, volume, HOUR + timedelta(hours=2, minutes=30))

    # When 10:00-11:00 is backfilled later
    records = collect(settings, COLLECTED + timedelta(hours=3))

    # Then nothing is charged for the volume
    assert [record for record in records if record.resource_id == volume] == []


def test_the_creation_hour_charges_the_share_after_creation(settings: Settings):
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=100, VolumeType="gp3")["VolumeId"]
    lifetimes.set_volume_created(REGION, volume, HOUR + timedelta(minutes=45))

    (record,) = (record for record in collect(settings, COLLECTED) if record.resource_id == volume)

    assert record.hours == pytest.approx(0.25)


def test_an_hour_before_the_first_look_says_its_inventory_was_incomplete(settings: Settings):
    # Given a connection first collected now, for an hour three days ago
    collect(settings, HOUR + timedelta(days=3))

    status = StatusStore(ClientFactory(settings=settings), settings.usage_table).get("acme", HOUR)

    # Then the hour's status says its inventory was incomplete
    assert status is not None
    assert status.inventory_incomplete


def test_the_connection_keeps_its_first_look_for_the_backfill_answer(settings: Settings):
    # Given a connection first collected at COLLECTED, then again a day later
    collect(settings, COLLECTED)
    collect(settings, COLLECTED + timedelta(days=1))

    schedule = ConnectionStore(ClientFactory(settings=settings), settings.connections_table).schedule("acme")

    # Then its first look stays the first collection's time (the inventory's oldest sighting)
    assert schedule.inventory_since == COLLECTED


def test_an_hour_collected_when_it_ends_has_a_complete_inventory(settings: Settings):
    collect(settings, COLLECTED)

    status = StatusStore(ClientFactory(settings=settings), settings.usage_table).get("acme", HOUR)

    assert status is not None
    assert not status.inventory_incomplete


def test_the_demo_account_has_an_instance_starting_and_one_ending_within_the_hour_charged_by_share(aws):
    # Given the demo account seeded for one hour in one region
    setup = ClientFactory(settings=Settings(region="us-east-1"))
    settings = create_resources(setup, setup.settings)
    demo = seed_demo_account(ClientFactory(settings=settings), (REGION,), [HOUR])
    ConnectionStore(setup, settings.connections_table).put(
        Connection(connection_id="acme", role_arn=demo.role_arn, external_id=demo.external_id, regions=(REGION,))
    )
    described = [
        instance
        for reservation in boto3.client("ec2", region_name=REGION).describe_instances()["Reservations"]
        for instance in reservation["Instances"]
    ]
    (late,) = (i["InstanceId"] for i in described if i["LaunchTime"] == HOUR + timedelta(minutes=30))
    (ended,) = (i["InstanceId"] for i in described if i["State"]["Name"] == "terminated")

    # When its hour is collected
    charged = instance_hours(collect(settings, COLLECTED))

    # Then the one started at 10:30 is charged half an hour, the one terminated at 10:20 a third, the rest whole
    assert charged.pop(late) == pytest.approx(0.5)
    assert charged.pop(ended) == pytest.approx(1 / 3)
    assert set(charged.values()) == {1.0}
