"""The trimmed answers of a collection's customer sessions lose nothing its slices read (issue #15's guard).

The customer sessions of a collection parse only the members of the shapes the slices name
(``ServiceSlice.read_members``, ``aws.TrimmedModelLoader``): a member read but not named would come back missing
without an error. So the demo account (every service, running, stopped and late instances) is collected with the
full model, noting every member read of the named shapes, and with the trimmed one: what is read must be named,
and the records must be the same, byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from carbonmeter.aws import ClientFactory, EventHook, assume_role
from carbonmeter.collection import collect
from carbonmeter.keys import resource_key
from carbonmeter.models import Connection, Service, previous_whole_hour
from carbonmeter.services import READ_ACTIONS, READ_MEMBERS, READ_RESOURCES
from carbonmeter.settings import Settings
from devtools.seed import seed_demo_account
from tests.support.answer_reads import MemberReads

REGIONS = ("us-east-1", "eu-west-1")
HOUR = previous_whole_hour(datetime.now(UTC)) - timedelta(hours=1)


def _records(settings: Settings, connection: Connection, *, trimmed: bool, hooks: list[EventHook]) -> list[str]:
    base = ClientFactory(boto3.Session(), settings=settings, hooks=hooks)
    customer = assume_role(
        base,
        connection.role_arn,
        connection.external_id,
        "read-members",
        session_actions=READ_ACTIONS,
        session_resources=READ_RESOURCES,
        read_members=READ_MEMBERS if trimmed else None,
    )
    result = collect(customer, connection, [HOUR], workers=1)
    assert not result.failed
    return [record.model_dump_json() for record in sorted(result.records, key=resource_key)]


def test_slices_read_only_the_members_their_trimmed_answers_keep(aws):
    settings = Settings(region="us-east-1")
    demo = seed_demo_account(ClientFactory(boto3.Session(), settings=settings), REGIONS, [HOUR])
    connection = Connection(connection_id="acme", role_arn=demo.role_arn, external_id=demo.external_id, regions=REGIONS)
    reads = MemberReads(READ_MEMBERS)
    # When the demo account is collected with the full model, noting what is read of each trimmed shape
    full = _records(settings, connection, trimmed=False, hooks=[reads.hook()])
    # Then every trimmed shape was met, and only members it keeps were read of it
    assert set(reads.wrapped) == set(READ_MEMBERS)
    for shape, members in READ_MEMBERS.items():
        assert reads.read[shape] <= members, f"{shape} read but not kept: {sorted(reads.read[shape] - members)}"
    # And with the trimmed model the records are the same, byte for byte (EC2's and EBS's included)
    trimmed = _records(settings, connection, trimmed=True, hooks=[])
    assert trimmed == full
    services = {Service(record.split('"service":"', 1)[1].split('"', 1)[0]) for record in full}
    assert {Service.EC2, Service.EBS} <= services
