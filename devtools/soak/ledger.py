"""Everything a run stored, read back from the usage and emissions tables, by DynamoDB key."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from carbonmeter import keys
from carbonmeter.aws import ClientFactory
from carbonmeter.settings import Settings

Key = tuple[str, str]
Item = dict[str, Any]
FIGURES = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")


@dataclass
class Ledger:
    """Everything the pipeline stored, by DynamoDB key."""

    usage: dict[Key, Item] = field(default_factory=dict)
    statuses: dict[Key, Item] = field(default_factory=dict)
    emissions: dict[Key, Item] = field(default_factory=dict)
    rollups: dict[Key, Item] = field(default_factory=dict)
    # Each hour's top resources, beside its roll-ups in the connection's partition.
    tops: dict[Key, Item] = field(default_factory=dict)
    # Days and months, which span hours: compared with their own parts, not restricted to hours.
    periods: dict[Key, Item] = field(default_factory=dict)

    def within(self, hour_keys: set[str]) -> Ledger:
        """The items of the given hours only."""
        return Ledger(
            usage={k: v for k, v in self.usage.items() if hour_of_partition(k[0])[1] in hour_keys},
            statuses={k: v for k, v in self.statuses.items() if hour_of_sort_key(v)[1] in hour_keys},
            emissions={k: v for k, v in self.emissions.items() if hour_of_partition(k[0])[1] in hour_keys},
            rollups={k: v for k, v in self.rollups.items() if hour_of_sort_key(v)[1] in hour_keys},
            tops={k: v for k, v in self.tops.items() if hour_of_sort_key(v)[1] in hour_keys},
            periods=self.periods,
        )

    def totals(self) -> dict[str, float]:
        """Energy and emissions summed over every emission record."""
        return _sums(self.emissions.values())

    def rollup_totals(self) -> dict[str, float]:
        """Energy and emissions summed over every roll-up."""
        return _sums(self.rollups.values())


def _sums(items: Iterable[Item]) -> dict[str, float]:
    items = list(items)
    return {name: math.fsum(float(item[name]) for item in items) for name in FIGURES}


def hour_of_partition(pk: str) -> Key:
    """(connection, hour) of a usage or emission item."""
    return keys.parse_hour_partition(pk)


def hour_of_sort_key(item: Item) -> Key:
    """(connection, hour) of a status or roll-up, which sit in the connection's own partition."""
    return item["pk"], keys.hour_of_connection_key(item["sk"])


def read_ledger(clients: ClientFactory, settings: Settings) -> Ledger:
    """Every item of the usage and emissions tables, sorted into usage, statuses, emissions and roll-ups."""
    ledger = Ledger()
    for item in _scan(clients, settings.usage_table):
        if item["sk"].startswith((keys.COST_PREFIX, keys.AWS_CARBON_PREFIX, keys.INVENTORY_PREFIX)):
            # the insights' days of spend and months of AWS's figures, and the inventory (stamped with the time a
            # resource was seen, which differs between two runs): no hour's ledger
            continue
        target = ledger.statuses if item["sk"].startswith(keys.STATUS_PREFIX) else ledger.usage
        target[(item["pk"], item["sk"])] = item
    for item in _scan(clients, settings.emissions_table):
        if item["sk"].startswith((keys.ANOMALY_PREFIX, keys.ANOMALY_CHECK_PREFIX)):
            continue  # the anomaly detector's own items: judged from the hours, not part of their ledger
        if item["sk"].startswith(keys.PERIOD_PREFIX):
            target = ledger.periods
        elif item["sk"].startswith(keys.TOP_PREFIX):
            target = ledger.tops
        else:
            target = ledger.rollups if item["sk"].startswith(keys.ROLLUP_PREFIX) else ledger.emissions
        target[(item["pk"], item["sk"])] = item
    return ledger


def _scan(clients: ClientFactory, table_name: str) -> Iterator[Item]:
    table = clients.resource("dynamodb").Table(table_name)
    params: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
