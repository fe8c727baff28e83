"""The embedded AWS's fast DynamoDB answers: byte for byte moto's own, with moto's page and item limits kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

from devtools.aws.dynamodb_speed import dynamodb_answers_fast
from devtools.aws.server import embedded_aws

TABLE = "speed"
INDEX = "by-kind"
ONE_MB = 1024 * 1024


def _value(n: int) -> dict[str, Any]:
    """Every attribute type, nested, with the edge values (empty string, map, list; unicode; bytes)."""
    return {
        "M": {
            "text": {"S": f"día {n} — ☃"},
            "empty": {"S": ""},
            "number": {"N": f"{n}.50"},
            "bytes": {"B": bytes([n % 256, 0, 255])},
            "strings": {"SS": [f"s{n}", "t"]},
            "numbers": {"NS": [str(n), "0.25"]},
            "blobs": {"BS": [b"\x00", bytes([n % 256 + 1 if n % 256 < 255 else 1])]},
            "nothing": {"NULL": True},
            "flag": {"BOOL": n % 2 == 0},
            "list": {"L": [{"N": "1"}, {"M": {"deep": {"L": [{"S": "x"}, {"BOOL": True}]}}}, {"L": []}]},
            "map": {"M": {}},
        }
    }


def _item(n: int, padding: int) -> dict[str, Any]:
    return {
        "pk": {"S": "connection"},
        "sk": {"S": f"day#{n:03d}"},
        "kind": {"S": "day" if n % 3 else "month"},
        "groups": {"M": {f"region-{r}": _value(n + r) for r in range(12)}},
        "padding": {"S": "x" * padding},
    }


def _create_table(client: Any, items: int) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "kind")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["groups"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(items):
        client.put_item(TableName=TABLE, Item=_item(n, 90_000))


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A table of 40 items of every attribute type, about 3.6 MB in all, on moto without the patch."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_table(client, 40)
        yield client


def _raw_pages(client: Any, operation: str, **params: Any) -> list[bytes]:
    """Every page's HTTP body as moto wrote it, following LastEvaluatedKey to the end."""
    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    event = f"after-call.dynamodb.{operation}"
    client.meta.events.register(event, keep)
    try:
        call = getattr(client, xform_name(operation))
        while True:
            page = call(**params)
            if "LastEvaluatedKey" not in page:
                return bodies
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    finally:
        client.meta.events.unregister(event, keep)


_QUERY = {
    "TableName": TABLE,
    "KeyConditionExpression": "pk = :pk",
    "ExpressionAttributeValues": {":pk": {"S": "connection"}},
}
_READS = [
    pytest.param("Query", {**_QUERY, "ConsistentRead": True}, id="query-paged-by-1MB"),
    pytest.param("Query", {**_QUERY, "ScanIndexForward": False, "Limit": 7}, id="query-backwards-limited"),
    pytest.param(
        "Query",
        {
            **_QUERY,
            "ProjectionExpression": "sk, #g.#r.M.#l, padding",
            "ReturnConsumedCapacity": "TOTAL",
            "ExpressionAttributeNames": {"#g": "groups", "#r": "region-3", "#l": "list"},
        },
        id="query-projected",
    ),
    pytest.param(
        "Query",
        {
            **_QUERY,
            "FilterExpression": "kind = :k",
            "ExpressionAttributeValues": {":pk": {"S": "connection"}, ":k": {"S": "day"}},
        },
        id="query-filtered",
    ),
    pytest.param(
        "Query",
        {
            "TableName": TABLE,
            "IndexName": INDEX,
            "KeyConditionExpression": "kind = :k",
            "ExpressionAttributeValues": {":k": {"S": "day"}},
        },
        id="query-index",
    ),
    pytest.param("Scan", {"TableName": TABLE}, id="scan"),
    pytest.param(
        "Scan",
        {
            "TableName": TABLE,
            "ProjectionExpression": "sk, #k, padding, groups, absent",
            "ExpressionAttributeNames": {"#k": "kind"},
        },
        id="scan-projected-by-names",
    ),
    pytest.param(
        "Scan",
        {
            "TableName": TABLE,
            "ProjectionExpression": "sk, #g.#r.#t, #g.#r.#l, #g.#o",
            "ExpressionAttributeNames": {
                "#g": "groups",
                "#r": "region-3",
                "#t": "text",
                "#l": "list",
                "#o": "region-4",
            },
        },
        id="scan-projected-by-paths",
    ),
    pytest.param(
        "Scan",
        {"TableName": TABLE, "IndexName": INDEX, "ProjectionExpression": "kind, groups"},
        id="scan-index-projected",
    ),
    pytest.param("GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "connection"}, "sk": {"S": "day#007"}}}, id="get"),
]


@pytest.mark.parametrize(("operation", "params"), _READS)
def test_the_patched_answers_are_moto_own_byte_for_byte(dynamodb, operation, params):
    # Given moto's own answers, page by page
    unpatched = _raw_pages(dynamodb, operation, **dict(params))
    # When the same reads are answered with the patch
    with dynamodb_answers_fast():
        patched = _raw_pages(dynamodb, operation, **dict(params))
    # Then every page is the same bytes: items, order, LastEvaluatedKey, counts
    assert patched == unpatched
    assert b"day#" in patched[0]


def _embedded_answers(fast: bool) -> list[list[bytes]]:
    with embedded_aws(fast_dynamodb=fast):
        client = boto3.client("dynamodb")
        _create_table(client, 12)
        return [_raw_pages(client, operation, **dict(params)) for operation, params in _EMBEDDED_READS]


_EMBEDDED_READS = [
    ("Query", {**_QUERY, "Limit": 5}),
    ("Query", {"TableName": TABLE, "IndexName": INDEX, "KeyConditionExpression": "kind = :k",
               "ExpressionAttributeValues": {":k": {"S": "day"}}}),
    ("Query", {**_QUERY, "ProjectionExpression": "sk, kind"}),
    ("Query", {**_QUERY, "Limit": 5}),
]  # fmt: skip


def test_the_embedded_server_answers_as_moto_does_on_its_own():
    # Given an embedded AWS answering with moto's own serialisation, and one with the patch, seeded alike
    unpatched, patched = _embedded_answers(fast=False), _embedded_answers(fast=True)
    # Then their pages are the same bytes, the index's included, and the table's items were not trimmed by it
    assert patched == unpatched
    # (the projected read pages by the items' whole size, 1.1 MB, as DynamoDB does)
    assert [len(pages) for pages in patched] == [3, 1, 2, 3]
    assert b"padding" not in patched[1][0]
    assert patched[3] == patched[0]


def test_a_long_query_is_still_paged_and_the_patch_leaves_moto_as_it_was(dynamodb):
    with dynamodb_answers_fast():
        patched = _raw_pages(dynamodb, "Query", **_QUERY)
    # A 3.6 MB partition takes several pages of at most 1 MB
    assert len(patched) >= 4
    # And after the block moto serialises, sizes and copies as before (the next answer is moto's again)
    assert _raw_pages(dynamodb, "Query", **_QUERY) == patched


def test_a_page_still_stops_at_one_megabyte(dynamodb):
    # Given items of 300 KB each (moto's sizes: names and values' bytes)
    for n in range(5):
        dynamodb.put_item(
            TableName=TABLE, Item={"pk": {"S": "big"}, "sk": {"S": f"{n}"}, "padding": {"S": "y" * 300_000}}
        )
    query = {**_QUERY, "ExpressionAttributeValues": {":pk": {"S": "big"}}}
    with dynamodb_answers_fast():
        # When the partition is read
        first = dynamodb.query(**query)
        rest = dynamodb.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])
    # Then the first page holds the three that fit in 1 MB, and says where the next one starts
    assert [item["sk"]["S"] for item in first["Items"]] == ["0", "1", "2"]
    assert 3 * 300_000 < ONE_MB < 4 * 300_000
    assert first["LastEvaluatedKey"] == {"pk": {"S": "big"}, "sk": {"S": "2"}}
    assert [item["sk"]["S"] for item in rest["Items"]] == ["3", "4"]
    assert "LastEvaluatedKey" not in rest


def test_an_item_over_400_kb_is_still_refused(dynamodb):
    with dynamodb_answers_fast(), pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "big"}, "sk": {"S": "x"}, "padding": {"S": "z" * 410_000}})


def test_a_projection_by_names_converts_each_item_once(dynamodb, monkeypatch):
    # Given moto's conversion of an item to plain values, counted
    conversions = []
    original = Item.to_regular_json
    monkeypatch.setattr(Item, "to_regular_json", lambda item: conversions.append(item) or original(item))
    projected = {"TableName": TABLE, "Limit": 10, "ProjectionExpression": "sk, kind, padding"}
    # When ten items are scanned projected on three names, by moto alone and with the patch
    dynamodb.scan(**projected)
    alone, conversions[:] = len(conversions), []
    with dynamodb_answers_fast():
        dynamodb.scan(**projected)
        # Then moto converts each item once a name, the patch once an item
        assert (alone, len(conversions)) == (30, 10)
        conversions[:] = []
        # and a nested path still converts once a path
        dynamodb.scan(
            **{**projected, "ProjectionExpression": "sk, groups.#r", "ExpressionAttributeNames": {"#r": "region-1"}}
        )
        assert len(conversions) == 20
