"""The embedded AWS's patch of moto's DynamoDB sizes: DescribeTable reports what the workbench seeded, and only that."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from devtools.aws.server import embedded_aws
from devtools.aws.table_sizes import size_tags

GB = 10**9


def create_table(dynamodb: Any, name: str, tags: list[dict[str, str]]) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in ("pk", "kind", "day")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in (("by-kind", "kind"), ("by-day", "day"))
        ],
        BillingMode="PAY_PER_REQUEST",
        **({"Tags": tags} if tags else {}),
    )


def sizes(description: dict[str, Any]) -> tuple[int, dict[str, int]]:
    indexes = {index["IndexName"]: index.get("IndexSizeBytes") for index in description["GlobalSecondaryIndexes"]}
    return description["TableSizeBytes"], indexes


def test_describe_table_reports_the_seeded_table_and_index_sizes_and_zero_for_the_rest():
    with embedded_aws():
        dynamodb = boto3.client("dynamodb")
        # Given a table seeded with its sizes (one index left out) and a table seeded with none
        create_table(dynamodb, "orders", size_tags(42 * GB, {"by-kind": 6 * GB}))
        create_table(dynamodb, "own", [])
        # And items written to both (moto's real contents play no part in the sizes AWS reports)
        for table in ("orders", "own"):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "kind": {"S": "x"}, "day": {"S": "1"}})

        # Then DescribeTable reports the seeded sizes, and 0 for what was not seeded, every index included
        orders = dynamodb.describe_table(TableName="orders")["Table"]
        assert sizes(orders) == (42 * GB, {"by-kind": 6 * GB, "by-day": 0})
        assert sizes(dynamodb.describe_table(TableName="own")["Table"]) == (0, {"by-kind": 0, "by-day": 0})
        # And nothing else of the description changed
        own = dynamodb.describe_table(TableName="own")["Table"]
        assert (own["ItemCount"], own["TableStatus"], own["BillingModeSummary"]) == (
            1,
            "ACTIVE",
            {"BillingMode": "PAY_PER_REQUEST"},
        )


def test_moto_is_left_as_it_was_outside_the_embedded_aws():
    with embedded_aws():
        pass
    # Given plain moto after an embedded AWS ran in this process
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "orders", size_tags(42 * GB, {"by-kind": 6 * GB}))
        # Then it reports 0 bytes again, and no index size, as moto does
        assert sizes(dynamodb.describe_table(TableName="orders")["Table"]) == (0, {"by-kind": None, "by-day": None})
