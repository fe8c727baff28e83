"""DynamoDB table and index sizes on the embedded AWS: DescribeTable reports the sizes the workbench seeded.

Moto answers every DescribeTable with ``TableSizeBytes`` 0, whatever the table holds, and leaves
``IndexSizeBytes`` out of its global secondary indexes. AWS computes both itself (about every six hours) and
takes no size from a caller, so the workbench seeds a table's sizes where a real account keeps them, on the
table: in tags given at CreateTable (``size_tags``), read back here. A table without them, such as CarbonMeter's
own, reports 0 for itself and each index: what AWS reports for a table younger than its first refresh, which
every table of an embedded AWS run is. Only the two size fields of DescribeTable's answer change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models.table import Table

SIZE_TAG = "carbonmeter-workbench:size-bytes"
# Followed by the index's name: one tag per global secondary index.
INDEX_SIZE_TAG = f"{SIZE_TAG}:"


def size_tags(table_bytes: int, index_bytes: Mapping[str, int]) -> list[dict[str, str]]:
    """CreateTable ``Tags`` under which the embedded AWS reports these sizes for the table and its indexes."""
    tags = {SIZE_TAG: str(table_bytes)} | {f"{INDEX_SIZE_TAG}{name}": str(size) for name, size in index_bytes.items()}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


@contextmanager
def table_sizes_as_seeded() -> Iterator[None]:
    """While the block runs, moto's DescribeTable (and every answer carrying a table description) reports them."""
    original = Table.describe

    def describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original(self, base_key)
        _with_seeded_sizes(result[base_key], {tag["Key"]: tag["Value"] for tag in self.tags or []})
        return result

    Table.describe = describe  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.describe = original  # type: ignore[method-assign]


def _with_seeded_sizes(description: dict[str, Any], tags: Mapping[str, str]) -> None:
    description["TableSizeBytes"] = int(tags.get(SIZE_TAG, 0))
    for index in description.get("GlobalSecondaryIndexes", []):
        index["IndexSizeBytes"] = int(tags.get(f"{INDEX_SIZE_TAG}{index['IndexName']}", 0))
