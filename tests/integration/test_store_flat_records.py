"""Usage records stored before ``details`` existed (the flat shape) are still read, and estimated the same.

``tests/fixtures/stored_usage_v0.json`` holds items exactly as ``UsageStore`` wrote them then (built with that
code: every field at the top level, numbers as DynamoDB returns them), each with the estimate it had.
"""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from moto import mock_aws

from carbonmeter import keys
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions import estimate
from carbonmeter.emissions.methodology import METHODOLOGY_VERSION
from carbonmeter.models import UsageRecord
from carbonmeter.services import DETAILS_TYPES
from carbonmeter.settings import Settings
from carbonmeter.store import UsageStore
from devtools.aws.resources import create_resources

FIXTURE = Path(__file__).parents[1] / "fixtures" / "stored_usage_v0.json"
CASES = json.loads(FIXTURE.read_text(encoding="utf-8"), parse_float=Decimal)


@pytest.fixture
def clients(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        create_resources(factory, factory.settings)
        yield factory


def _plain(value: object) -> object:
    return json.loads(json.dumps(value, default=float))


def test_flat_items_read_from_the_table_give_the_estimates_they_had(clients) -> None:
    table = clients.resource("dynamodb").Table(clients.settings.usage_table)
    for case in CASES:
        table.put_item(Item=case["item"])

    records = UsageStore(clients, clients.settings.usage_table).read_hour("acme", UsageRecord(**CASES[0]["item"]).hour)

    by_key = {keys.resource_key(record): record for record in records}
    assert len(by_key) == len(CASES)
    for case in CASES:
        record = by_key[case["item"]["sk"]]
        assert type(record.details) is DETAILS_TYPES[record.service]
        # Every figure as it was; the version names the methodology that computes them now (1.3 changed what an
        # hour charges, not how a charged hour is estimated).
        found = estimate(record).model_dump(mode="json")
        assert found.pop("methodology_version") == METHODOLOGY_VERSION
        expected = _plain(case["estimate"])
        assert isinstance(expected, dict)
        expected.pop("methodology_version")
        assert found == expected


def test_a_flat_item_written_back_takes_the_details_shape_and_reads_the_same(clients) -> None:
    store = UsageStore(clients, clients.settings.usage_table)
    flat = [UsageRecord(**case["item"]) for case in CASES]

    store.replace_hour("acme", flat[0].hour, flat)

    table = clients.resource("dynamodb").Table(clients.settings.usage_table)
    stored = table.get_item(Key={"pk": CASES[0]["item"]["pk"], "sk": CASES[0]["item"]["sk"]})["Item"]
    assert stored["details"]["service"] == "ec2"
    assert "vcpus" not in stored
    assert stored["details"]["vcpus"] == 4
    assert sorted(store.read_hour("acme", flat[0].hour), key=keys.resource_key) == sorted(flat, key=keys.resource_key)
