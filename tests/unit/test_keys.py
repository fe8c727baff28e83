"""The storage keys: what the stores write and the workbench parses back, from one module."""

from datetime import UTC, datetime, timedelta

from carbonmeter import keys
from carbonmeter.models import hour_key

HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)


def test_an_hour_partition_parses_back_into_its_connection_and_hour():
    pk = keys.hour_partition("acme-prod", HOUR)
    assert pk == "acme-prod#2026-11-23T10:00:00Z"
    assert keys.parse_hour_partition(pk) == ("acme-prod", hour_key(HOUR))


def test_status_and_rollup_keys_name_their_hour_and_sort_by_it():
    status = keys.status_key(HOUR)
    rollup = keys.rollup_key(HOUR, "eu-west-1", "ec2")
    assert keys.hour_of_connection_key(status) == keys.hour_of_connection_key(rollup) == hour_key(HOUR)
    assert rollup.startswith(keys.rollup_prefix(HOUR))
    # A range query over [start, end) of hours finds every roll-up of its hours, and none of the end hour.
    later = keys.rollup_key(HOUR + timedelta(hours=1), "eu-west-1", "ec2")
    assert keys.rollup_bound(HOUR) <= rollup < keys.rollup_bound(HOUR + timedelta(hours=1)) <= later


def test_a_scope_prefix_is_the_start_of_its_resources_usage_keys():
    class Record:
        region, service, resource_id, resource_type = "eu-west-1", "ebs", "vol-1", "gp3"

    key = keys.resource_key(Record())
    assert key.startswith(keys.scope_prefix("eu-west-1/ebs"))
    assert not key.startswith(keys.scope_prefix("eu-west-1/ec2"))
    assert keys.emission_key(Record()) == keys.RESOURCE_PREFIX + key
