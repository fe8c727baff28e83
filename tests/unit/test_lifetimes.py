"""The lifetime rules, worked by hand: the share of an hour a resource existed, EC2's running share from its
readings, and what the inventory remembers and gives back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.inventory import Inventory
from carbonmeter.models import Service
from carbonmeter.services import ec2
from carbonmeter.services.base import Resource, lifetime_share

HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def instance(**fields) -> Resource:
    attributes = {"state": fields.pop("state", "running"), "monitoring": fields.pop("monitoring", "basic")}
    return Resource(Service.EC2, "eu-west-1", "i-1", "m5.large", attributes, **fields)


def readings(resource: Resource, samples: float) -> dict[MetricRequest, list[float]]:
    (sample_count,) = (r for r in ec2.SLICE.metric_requests(resource, HOUR) if r.stat == "SampleCount")
    return {sample_count: [samples]}


@pytest.mark.parametrize(
    ("created", "ended", "share"),
    [
        (None, None, 1.0),
        (HOUR - timedelta(days=1), None, 1.0),
        (HOUR + minutes(45), None, 0.25),
        (HOUR + timedelta(hours=2), None, 0.0),
        (None, HOUR + minutes(20), 1 / 3),
        (None, HOUR - minutes(1), 0.0),
        (HOUR + minutes(10), HOUR + minutes(40), 0.5),
    ],
)
def test_the_share_of_an_hour_within_a_lifetime(created, ended, share):
    resource = Resource(Service.EBS, "eu-west-1", "vol-1", "gp3", created_at=created, ended_at=ended)
    assert lifetime_share(resource, HOUR) == pytest.approx(share)


def test_an_instance_running_the_whole_hour_is_charged_whole_despite_a_missing_reading():
    resource = instance(created_at=HOUR - timedelta(days=1))
    assert ec2.SLICE.running_share(resource, readings(resource, 11), HOUR) == 1.0


def test_readings_show_a_run_before_the_latest_launch():
    # Stopped at 10:20 and started again at 10:40: LaunchTime says 20 minutes, the 8 readings say 40
    resource = instance(created_at=HOUR + minutes(40))
    assert ec2.SLICE.running_share(resource, readings(resource, 8), HOUR) == pytest.approx(40 / 60)


def test_detailed_monitoring_counts_a_reading_a_minute():
    resource = instance(created_at=HOUR + minutes(15), monitoring="detailed")
    assert ec2.SLICE.running_share(resource, readings(resource, 45), HOUR) == pytest.approx(0.75)


def test_without_readings_the_lifetime_alone_and_nothing_for_an_unknown_stop():
    assert ec2.SLICE.running_share(instance(created_at=HOUR + minutes(30)), {}, HOUR) == 0.5
    assert ec2.SLICE.running_share(instance(state="stopped"), {}, HOUR) == 0.0


def test_an_instance_stopped_before_the_hour_needs_no_metric():
    assert ec2.SLICE.metric_requests(instance(state="stopped", ended_at=HOUR - minutes(5)), HOUR) == []


def test_ended_at_reads_the_state_transition_reason():
    described = {"State": {"Name": "terminated"}, "StateTransitionReason": "User initiated (2026-11-23 10:20:00 GMT)"}
    assert ec2.ended_at(described) == HOUR + minutes(20)
    assert ec2.ended_at({"State": {"Name": "running"}, "StateTransitionReason": ""}) is None


def test_the_inventory_gives_back_a_gone_resource_for_the_hours_it_lived_ended_when_last_seen():
    now = HOUR + minutes(70)
    seen = Inventory.of("acme", [], now).seen([instance(created_at=HOUR - timedelta(days=1))])
    later = Inventory.of("acme", seen, now + timedelta(hours=2))

    (gone,) = later.gone("eu-west-1", Service.EC2, [], [HOUR])
    assert gone.ended_at == now
    assert later.gone("eu-west-1", Service.EC2, [], [HOUR + timedelta(hours=3)]) == []
    assert later.gone("eu-west-1", Service.EC2, [instance()], [HOUR]) == []


def test_an_hour_ending_more_than_an_hour_before_the_first_look_has_an_incomplete_inventory():
    first_look = Inventory.of("acme", [], HOUR + timedelta(hours=2))
    assert first_look.covers(HOUR)
    assert not first_look.covers(HOUR - minutes(60))


def test_an_unchanged_resource_is_rewritten_only_once_its_sighting_is_stale():
    resource = instance(created_at=HOUR)
    stored = Inventory.of("acme", [], HOUR).seen([resource])
    assert Inventory.of("acme", stored, HOUR + minutes(5)).seen([resource]) == []
    (again,) = Inventory.of("acme", stored, HOUR + minutes(15)).seen([resource])
    assert (again.first_seen, again.last_seen) == (HOUR, HOUR + minutes(15))


def test_a_gone_resource_comes_back_under_the_types_of_its_latest_sighting():
    bucket = [Resource(Service.S3, "eu-west-1", "logs", kind) for kind in ("StandardStorage", "GlacierStorage")]
    resized = Resource(Service.EC2, "eu-west-1", "i-1", "m5.xlarge", {"state": "running"})
    older = Inventory.of("acme", [], HOUR).seen([*bucket, instance()])
    later = Inventory.of("acme", older, HOUR + minutes(30)).seen([*bucket, resized])
    inventory = Inventory.of("acme", [*older, *later], HOUR + timedelta(hours=3))

    assert {r.resource_type for r in inventory.gone("eu-west-1", Service.S3, [], [HOUR])} == {
        "StandardStorage",
        "GlacierStorage",
    }
    # (i-1 was resized from m5.large to m5.xlarge: it comes back once, as last seen)
    assert [(r.resource_id, r.resource_type) for r in inventory.gone("eu-west-1", Service.EC2, [], [HOUR])] == [
        ("i-1", "m5.xlarge")
    ]
