"""A connection's inventory: every resource its collections have seen, with when it was first and last seen.

Discovery is a snapshot taken when the collector runs; the inventory is what makes a later look at an hour see
what that snapshot saw. A retry or a re-collection of an hour collects, beside what the APIs list now, the
remembered resources of slices that ask for it (``ServiceSlice.remembers_gone``) whose known lifetime overlaps
the hour, as they were last seen: an EC2 instance terminated more than an hour ago, which DescribeInstances no
longer lists, is charged again exactly as when it was listed.

A resource seen alive and then gone without its end ever being listed ended, as far as anything can tell, when
it was last seen (``last_seen``). An hour that ended well before the inventory's first look (``covers``) may miss
resources that had ended by then: its status says so (``HourStatus.inventory_incomplete``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carbonmeter.models import HOUR, InventoryItem, Service, inventory_covers
from carbonmeter.services import COLLECTORS
from carbonmeter.services.base import Resource

# An item whose only change is its last sighting is rewritten at most this often, so that the jobs of a backfill,
# which all see the same resources within minutes, do not each rewrite the whole inventory.
REFRESH = timedelta(minutes=10)

_Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Inventory:
    """One connection's inventory as read before a collection, and ``now``, the collection's time."""

    connection_id: str
    now: datetime
    items: dict[_Key, InventoryItem] = field(default_factory=dict)
    # The first look the connection keeps (``ConnectionSchedule.inventory_since``): an account that had nothing
    # to list then has no sighting that old.
    first_look: datetime | None = None

    @classmethod
    def of(
        cls, connection_id: str, items: Iterable[InventoryItem], now: datetime, first_look: datetime | None = None
    ) -> Inventory:
        return cls(
            connection_id,
            now,
            {_key(item.region, item.service, item.resource_id, item.resource_type): item for item in items},
            first_look,
        )

    @property
    def since(self) -> datetime:
        """When CarbonMeter first looked at the account: its oldest sighting, or now for a first collection."""
        looks = [item.first_seen for item in self.items.values()]
        return min([*looks, self.first_look] if self.first_look else looks, default=self.now)

    def covers(self, hour: datetime) -> bool:
        """Whether the inventory saw every resource that can have run in ``hour``."""
        return inventory_covers(self.since, hour)

    def gone(
        self, region: str, service: Service, listed: Sequence[Resource], hours: Sequence[datetime]
    ) -> list[Resource]:
        """The remembered resources of ``service`` in ``region`` not ``listed`` now that lived in any of ``hours``."""
        if not hours:
            return []
        listed_ids = {resource.resource_id for resource in listed}
        start, end = min(hours), max(hours) + HOUR
        remembered = [
            item
            for item in self.items.values()
            if item.region == region and item.service == service and item.resource_id not in listed_ids
        ]
        # A resource seen under several types: those of its latest sighting (an S3 bucket's storage classes), not a
        # resized instance's older type as well.
        latest: dict[str, datetime] = {}
        for item in remembered:
            latest[item.resource_id] = max(item.last_seen, latest.get(item.resource_id, item.last_seen))
        current = (item for item in remembered if item.last_seen == latest[item.resource_id])
        return [resource for resource in map(_resource, current) if _lived_within(resource, start, end)]

    def seen(self, resources: Iterable[Resource]) -> list[InventoryItem]:
        """The items to store for ``resources`` listed now: new ones, changed ones and stale sightings.

        Every resource is remembered by its id, type and times; its attributes (its size and what its records are
        built from) only for the slices that collect it once gone (``remembers_gone``).
        """
        updated = []
        for resource in resources:
            attributes = dict(resource.attributes) if COLLECTORS[resource.service].remembers_gone else {}
            stored = self.items.get(
                _key(resource.region, resource.service, resource.resource_id, resource.resource_type)
            )
            item = InventoryItem(
                connection_id=self.connection_id,
                region=resource.region,
                service=resource.service,
                resource_id=resource.resource_id,
                resource_type=resource.resource_type,
                # As the store gives it back (tuples as lists), so an unchanged resource compares equal.
                attributes=json.loads(json.dumps(attributes)),
                created_at=resource.created_at,
                ended_at=resource.ended_at,
                first_seen=min(stored.first_seen, self.now) if stored else self.now,
                last_seen=max(stored.last_seen, self.now) if stored else self.now,
            )
            if stored is None or not _same_but_sighting(stored, item) or stored.last_seen < self.now - REFRESH:
                updated.append(item)
        return updated


def _key(region: str, service: str, resource_id: str, resource_type: str) -> _Key:
    return (region, str(service), resource_id, resource_type)


def _resource(item: InventoryItem) -> Resource:
    return Resource(
        service=item.service,
        region=item.region,
        resource_id=item.resource_id,
        resource_type=item.resource_type,
        attributes=item.attributes,
        created_at=item.created_at,
        # Gone without its end ever listed: it ended, as far as can be told, when it was last seen.
        ended_at=item.ended_at or item.last_seen,
    )


def _lived_within(resource: Resource, start: datetime, end: datetime) -> bool:
    began = resource.created_at is None or resource.created_at < end
    return began and (resource.ended_at is None or resource.ended_at > start)


def _same_but_sighting(stored: InventoryItem, item: InventoryItem) -> bool:
    return stored.model_copy(update={"last_seen": item.last_seen}) == item
