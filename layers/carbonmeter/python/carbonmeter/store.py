"""DynamoDB access: the connections registry and the hourly usage and emission ledgers.

Every ledger key starts with the connection id, so one connection's records can
only be reached through its own key. Writes for a connection-hour *replace* that
hour: items are put under deterministic keys and any item left over from an
earlier run of the same hour is deleted, so collecting an hour twice leaves the
same records as collecting it once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, TypeAdapter

from carbonmeter import keys, tops
from carbonmeter.aws import ClientFactory
from carbonmeter.models import (
    SCHEDULE_ATTRIBUTES,
    VIEW_ATTRIBUTES,
    Connection,
    ConnectionSchedule,
    ConnectionView,
    EmissionRecord,
    HourStatus,
    InventoryItem,
    Rollup,
    UsageRecord,
    hour_key,
)
from carbonmeter.periods import Claim, Granularity, GroupBy, GroupFigures, PeriodRollup
from carbonmeter.tops import ResourceTop

if TYPE_CHECKING:
    # Imported where an anomaly store reads records back: the scheduler and the collector use other stores of
    # this module and need not load the anomaly models on each cold start (docs/benchmarks.md).
    from carbonmeter.insights.anomalies.records import AlertState, Anomaly, HourCheck, HourFigures

Model = TypeVar("Model", bound=BaseModel)


class UnknownConnectionError(LookupError):
    """No connection is registered under that id."""


class MissingTableError(LookupError):
    """A table the command needs does not exist (where the client looked: its region and endpoint)."""

    def __init__(self, table_name: str, region: str) -> None:
        super().__init__(f"table {table_name!r} does not exist in {region}")
        self.table_name = table_name
        self.region = region


def _to_item(model: BaseModel, **keys: str) -> dict[str, Any]:
    item = _attributes(model)
    item.update(keys)
    return item


def _attributes(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    # DynamoDB's resource layer wants Decimal, never float; a JSON round trip converts both ways losslessly.
    item: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True, exclude=exclude), parse_float=Decimal)
    return item


def _from_item(model: type[Model], item: dict[str, Any]) -> Model:
    plain = json.loads(json.dumps(item, default=_decimal_default))
    return model.model_validate(plain)


# A period's groups are one compact JSON string per way of grouping (``groups_service``, ``groups_region``,
# ``groups_service_region``), not nested maps: a day of a real account holds hundreds of groups, and a year of days
# as maps (some 900 attribute values each) took the client seconds to parse. A view by one grouping reads its own
# attribute alone. Periods written before kept every group as a list of maps under ``groups``; both shapes are read,
# and a rewrite removes the old one.
_LEGACY_PERIOD_GROUPS = "groups"
_GROUPS = TypeAdapter(tuple[GroupFigures, ...])
# A period's top resources (``carbonmeter.tops``), one compact JSON string too, some 20 KB: read only when asked.
_PERIOD_TOP = "top"
_PERIOD_ATTRIBUTES = tuple(name for name in PeriodRollup.model_fields if name not in {"groups", _PERIOD_TOP})


def period_groups_attribute(group_by: GroupBy) -> str:
    """The attribute that holds a period's groups of one grouping."""
    return f"groups_{group_by}"


_GROUPED = {period_groups_attribute(group_by): group_by for group_by in GroupBy if group_by is not GroupBy.RESOURCE}


def period_item(period: PeriodRollup) -> dict[str, Any]:
    """The stored attributes of ``period`` (without its key)."""
    item = _attributes(period, exclude={"groups", _PERIOD_TOP})
    for attribute, group_by in _GROUPED.items():
        item[attribute] = _GROUPS.dump_json(tuple(period.of(group_by)), exclude_defaults=True).decode()
    if period.top is not None:
        item[_PERIOD_TOP] = top_json(period.top)
    return item


def top_json(top: ResourceTop) -> str:
    """A top as stored: compact JSON, defaults (zeros, empty bounds) left out."""
    return top.model_dump_json(exclude_defaults=True)


def period_from_item(item: Mapping[str, Any]) -> PeriodRollup:
    """A stored period, in either shape, with the groupings the item holds (all, unless it was read projected)."""
    period = _from_item(
        PeriodRollup, {name: value for name, value in item.items() if name not in _GROUPED and name != _PERIOD_TOP}
    )
    if _PERIOD_TOP in item:
        period = period.model_copy(update={"top": ResourceTop.model_validate_json(item[_PERIOD_TOP])})
    stored = sorted(attribute for attribute in _GROUPED if attribute in item)
    if not stored:
        return period
    # In the order periods keep their groups (by grouping, then group); validated by the adapter, so the copy need
    # not validate again.
    groups = tuple(group for attribute in stored for group in _GROUPS.validate_json(item[attribute]))
    return period.model_copy(update={"groups": groups})


def _decimal_default(value: object) -> float | int | list[Any]:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _table(clients: ClientFactory, name: str) -> Any:
    return _NamedTable(clients.resource("dynamodb").Table(name))


class _NamedTable:
    """A boto3 Table whose calls raise ``MissingTableError`` when it does not exist.

    DynamoDB's own error ("Requested resource not found") names neither the table nor where it was looked for.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._table, name)
        return self._named(attribute) if callable(attribute) else attribute

    def _named(self, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def named(*args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                region = self._table.meta.client.meta.region_name
                raise MissingTableError(self._table.name, region) from None

        return named


def _projection(attributes: Sequence[str]) -> dict[str, Any]:
    # Attribute names go through placeholders: some (like "enabled") could be DynamoDB reserved words one day.
    return {
        "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(attributes))),
        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(attributes)},
    }


_SCHEDULE_PROJECTION = _projection(SCHEDULE_ATTRIBUTES)
# What the HTTP API reads of connections (ConnectionView): never a role or an ExternalId.
_VIEW_PROJECTION = _projection(VIEW_ATTRIBUTES)


class ConnectionStore:
    """The registry of customer accounts to collect."""

    def __init__(self, clients: ClientFactory, table_name: str) -> None:
        self._table = _table(clients, table_name)

    def put(self, connection: Connection) -> None:
        self._table.put_item(Item=_to_item(connection))

    def put_many(self, connections: Iterable[Connection]) -> int:
        """Store ``connections`` (each replacing any of its id) as ``put`` stores each, 25 to a BatchWriteItem: a
        fleet registered at once (a seeded workbench) in a twenty-fifth of the requests. Returns how many."""
        count = 0
        # batch_writer resends UnprocessedItems; overwrite_by_pkeys keeps the last of an id given twice in a batch.
        with self._table.batch_writer(overwrite_by_pkeys=["connection_id"]) as batch:
            for connection in connections:
                batch.put_item(Item=_to_item(connection))
                count += 1
        return count

    def put_new(self, connection: Connection) -> bool:
        """Store ``connection`` unless one is registered under its id (then return False, storing nothing).

        Conditional, so two registrations of the same id at once cannot both succeed and one silently win.
        """
        try:
            self._table.put_item(Item=_to_item(connection), ConditionExpression=Attr("connection_id").not_exists())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, connection_id: str) -> Connection:
        item = self._table.get_item(Key={"connection_id": connection_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise UnknownConnectionError(f"no connection named {connection_id!r}")
        return _from_item(Connection, item)

    def list(self, *, enabled_only: bool = False) -> Iterator[Connection]:
        return self._scan(Connection, enabled_only)

    def schedules(self, *, enabled_only: bool = False) -> Iterator[ConnectionSchedule]:
        """What the scheduler needs of every connection, read without the roles and ExternalIds."""
        return self._scan(ConnectionSchedule, enabled_only, **_SCHEDULE_PROJECTION)

    def _scan(self, model: type[Model], enabled_only: bool, **params: Any) -> Iterator[Model]:
        if enabled_only:
            params["FilterExpression"] = Attr("enabled").eq(True)
        while True:
            page = self._table.scan(**params)
            for item in page.get("Items", []):
                yield _from_item(model, item)
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def schedule(self, connection_id: str) -> ConnectionSchedule:
        item = self._table.get_item(
            Key={"connection_id": connection_id},
            ConsistentRead=True,
            **_SCHEDULE_PROJECTION,
        ).get("Item")
        if item is None:
            raise UnknownConnectionError(f"no connection named {connection_id!r}")
        return _from_item(ConnectionSchedule, item)

    def views(self) -> Iterator[ConnectionView]:
        """Every connection as the HTTP API may show it, read without the roles and ExternalIds."""
        return self._scan(ConnectionView, False, **_VIEW_PROJECTION)

    def view(self, connection_id: str) -> ConnectionView:
        item = self._table.get_item(Key={"connection_id": connection_id}, ConsistentRead=True, **_VIEW_PROJECTION).get(
            "Item"
        )
        if item is None:
            raise UnknownConnectionError(f"no connection named {connection_id!r}")
        return _from_item(ConnectionView, item)

    def set_enabled(self, connection_id: str, enabled: bool) -> None:
        self.get(connection_id)
        self._table.update_item(
            Key={"connection_id": connection_id},
            UpdateExpression="SET enabled = :enabled",
            ExpressionAttributeValues={":enabled": enabled},
        )

    def delete(self, connection_id: str) -> None:
        """Remove a connection from the registry (conditional: an unknown id raises, rather than passing)."""
        try:
            self._table.delete_item(
                Key={"connection_id": connection_id}, ConditionExpression=Attr("connection_id").exists()
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise UnknownConnectionError(f"no connection named {connection_id!r}") from None
            raise

    def record_success(
        self, connection_id: str, hour: datetime, inventory_since: datetime, metrics_requested: int | None = None
    ) -> None:
        """Note a complete collection of ``hour``, and when the connection's inventory begins (kept once set);
        with ``metrics_requested``, the GetMetricData metrics that collection was billed (its monitoring cost).

        ``last_success_hour`` only moves forward: the collect queue delivers in no set order, and a backfill or a
        retried hour collected after a later one must not make the connection look behind.
        """
        values: dict[str, Any] = {":now": _now(), ":since": inventory_since.astimezone(UTC).isoformat()}
        expression = "SET last_success_at = :now, inventory_since = if_not_exists(inventory_since, :since)"
        if metrics_requested is not None:
            expression += ", metrics_per_collection = :metrics"
            values[":metrics"] = metrics_requested
        key, exists = {"connection_id": connection_id}, Attr("connection_id").exists()
        # Hour keys are ISO 8601 in UTC, so they compare as the hours do. One write when the hour is the latest
        # (almost always); a second, without the hour, when an older one was collected last.
        later = Attr("last_success_hour").not_exists() | Attr("last_success_hour").lt(hour_key(hour))
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression=f"{expression}, last_success_hour = :hour",
                ConditionExpression=exists & later,
                ExpressionAttributeValues={**values, ":hour": hour_key(hour)},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            self._table.update_item(
                Key=key, UpdateExpression=expression, ConditionExpression=exists, ExpressionAttributeValues=values
            )

    def set_window_hours(self, connection_id: str, window_hours: int | None) -> None:
        """Give a connection its own collection window, or (None) let it use the deployment's."""
        expression = "REMOVE window_hours" if window_hours is None else "SET window_hours = :window"
        values = {} if window_hours is None else {"ExpressionAttributeValues": {":window": window_hours}}
        try:
            self._table.update_item(
                Key={"connection_id": connection_id},
                UpdateExpression=expression,
                ConditionExpression=Attr("connection_id").exists(),
                **values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise UnknownConnectionError(f"no connection named {connection_id!r}") from None
            raise

    def record_failure(self, connection_id: str, error: str) -> None:
        self._table.update_item(
            Key={"connection_id": connection_id},
            UpdateExpression="SET last_error_at = :now, last_error = :error",
            ConditionExpression=Attr("connection_id").exists(),
            ExpressionAttributeValues={":now": _now(), ":error": error[:1000]},
        )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _HourLedger:
    """Items of one table keyed (pk, sk), replaced a connection-hour at a time."""

    def __init__(self, clients: ClientFactory, table_name: str) -> None:
        self._table = _table(clients, table_name)

    def _replace(self, pk: str, sk_prefixes: Sequence[str], items: Sequence[dict[str, Any]]) -> None:
        """Put ``items`` and delete whatever else is stored under ``pk`` and any of ``sk_prefixes``."""
        fresh = {item["sk"] for item in items}
        # One query of the partition whatever the number of prefixes: a hour has at most a few thousand items.
        prefix = sk_prefixes[0] if len(sk_prefixes) == 1 else ""
        stored = self._sort_keys(pk, prefix)
        stale = [sk for sk in stored if sk not in fresh and sk.startswith(tuple(sk_prefixes))]
        # batch_writer sends BatchWriteItem 25 at a time and resends UnprocessedItems.
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in items:
                batch.put_item(Item=item)
            for sk in stale:
                batch.delete_item(Key={"pk": pk, "sk": sk})

    def _sort_keys(self, pk: str, sk_prefix: str) -> list[str]:
        return [item["sk"] for item in self._query(pk, sk_prefix, ProjectionExpression="sk")]

    def _query(self, pk: str, sk_prefix: str, **extra: Any) -> Iterator[dict[str, Any]]:
        condition = Key("pk").eq(pk)
        if sk_prefix:
            condition = condition & Key("sk").begins_with(sk_prefix)
        return self._paginate(KeyConditionExpression=condition, **extra)

    def _paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        # Strongly consistent unless the caller asks otherwise (a read that can be a few seconds behind).
        params.setdefault("ConsistentRead", True)
        while True:
            page = self._table.query(**params)
            last, items = page.get("LastEvaluatedKey"), page.get("Items", [])
            del page
            yield from items
            # Released before the next page is read, so that a long read (an export) holds one page, not two.
            del items
            if last is None:
                return
            params["ExclusiveStartKey"] = last


class UsageStore(_HourLedger):
    """Hourly usage records, one partition per connection-hour."""

    def replace_hour(
        self,
        connection_id: str,
        hour: datetime,
        records: Iterable[UsageRecord],
        scopes: Iterable[str] | None = None,
    ) -> int:
        """Store ``records`` as the hour's usage, for the given ``region/service`` scopes only when given.

        Records of other scopes (a service that failed this time) are left as they were.
        """
        pk = keys.hour_partition(connection_id, hour)
        items = [_to_item(record, pk=pk, sk=keys.resource_key(record)) for record in records]
        _check_belongs(items, connection_id, hour)
        prefixes = [""] if scopes is None else [keys.scope_prefix(scope) for scope in scopes]
        _check_in_scopes(items, prefixes)
        self._replace(pk, prefixes, items)
        return len(items)

    def read_hour(self, connection_id: str, hour: datetime) -> list[UsageRecord]:
        items = self._query(keys.hour_partition(connection_id, hour), "")
        return [_from_item(UsageRecord, item) for item in items]

    def read_services(
        self, connection_id: str, hour: datetime, region: str, services: Sequence[str]
    ) -> list[UsageRecord]:
        """The hour's records of ``services`` in ``region``, in one eventually consistent query of the key range
        they span (services sorting between them are read too, and left out): cheaper than the whole hour."""
        low, high = keys.services_range(region, services)
        condition = Key("pk").eq(keys.hour_partition(connection_id, hour)) & Key("sk").between(low, high)
        items = self._paginate(KeyConditionExpression=condition, ConsistentRead=False)
        wanted = set(services)
        records = (_from_item(UsageRecord, item) for item in items)
        return [record for record in records if record.service in wanted]


class StatusStore(_HourLedger):
    """Per connection, what each collected hour got and missed (kept in the usage table)."""

    def record(
        self,
        connection_id: str,
        hour: datetime,
        succeeded: Iterable[str],
        failed: Mapping[str, str],
        skipped: Mapping[str, str],
        inventory_incomplete: bool = False,
    ) -> HourStatus:
        """Add one attempt to the hour's status, atomically, and return the status as it now stands.

        Succeeded scopes accumulate across attempts (their usage stays stored), so two
        collectors finishing the same hour at once never undo each other's work.
        """
        names = {"#hour": "hour", "#failed": "failed", "#skipped": "skipped"}
        values: dict[str, Any] = {
            ":one": 1,
            ":connection": connection_id,
            ":hour": hour_key(hour),
            ":now": _now(),
            ":failed": dict(failed),
            ":skipped": dict(skipped),
            ":inventory": inventory_incomplete,
        }
        expression = (
            "SET connection_id = :connection, #hour = :hour, updated_at = :now, #failed = :failed, "
            "#skipped = :skipped, inventory_incomplete = :inventory ADD attempts :one"
        )
        scopes = set(succeeded)
        if scopes:
            # A string set: ADD makes it the union of every attempt's scopes.
            expression += ", succeeded :succeeded"
            values[":succeeded"] = scopes
        item = self._table.update_item(
            Key={"pk": connection_id, "sk": keys.status_key(hour)},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return _from_item(HourStatus, item)

    def mark_calculated(self, connection_id: str, hour: datetime) -> None:
        """Note that the hour's emissions now match its stored usage."""
        self._mark(connection_id, hour, "SET calculated_at = :value REMOVE calculation_error", _now())

    def mark_calculation_failed(self, connection_id: str, hour: datetime, error: str) -> None:
        self._mark(connection_id, hour, "SET calculation_error = :value", error[:1000])

    def _mark(self, connection_id: str, hour: datetime, expression: str, value: str) -> None:
        # Only an hour that was collected has a status; a calculation never creates one.
        with suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
            self._table.update_item(
                Key={"pk": connection_id, "sk": keys.status_key(hour)},
                UpdateExpression=expression,
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeValues={":value": value},
            )

    def get(self, connection_id: str, hour: datetime) -> HourStatus | None:
        item = self._table.get_item(Key={"pk": connection_id, "sk": keys.status_key(hour)}, ConsistentRead=True)
        return _from_item(HourStatus, item["Item"]) if "Item" in item else None

    def between(self, connection_id: str, start: datetime, end: datetime) -> dict[datetime, HourStatus]:
        """Statuses of the hours in [start, end) that have one."""
        condition = Key("pk").eq(connection_id) & Key("sk").between(keys.status_key(start), keys.status_key(end))
        statuses = (_from_item(HourStatus, item) for item in self._paginate(KeyConditionExpression=condition))
        return {status.hour: status for status in statuses if start <= status.hour < end}


class InventoryStore(_HourLedger):
    """Per connection, every resource its collections have seen (kept in the usage table, in the connection's own
    partition, beside its statuses)."""

    def read(self, connection_id: str) -> list[InventoryItem]:
        items = self._query(connection_id, keys.INVENTORY_PREFIX)
        return [_from_item(InventoryItem, item) for item in items]

    def put(self, connection_id: str, items: Iterable[InventoryItem]) -> int:
        """Store ``items`` (each replaces the resource's earlier item); all must be ``connection_id``'s."""
        written = 0
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in items:
                if item.connection_id != connection_id:
                    raise ValueError(f"inventory item of {item.connection_id} written for {connection_id}")
                sk = keys.inventory_key(item.region, item.service, item.resource_id, item.resource_type)
                batch.put_item(Item=_to_item(item, pk=connection_id, sk=sk))
                written += 1
        return written


def _check_in_scopes(items: Sequence[dict[str, Any]], prefixes: Sequence[str]) -> None:
    for item in items:
        if not any(item["sk"].startswith(prefix) for prefix in prefixes):
            raise ValueError(f"record {item['sk']} is outside the scopes being stored")


class EmissionStore(_HourLedger):
    """Per-resource emission records by connection-hour, and roll-ups by connection over time."""

    def replace_hour(
        self, connection_id: str, hour: datetime, records: Iterable[EmissionRecord], rollups: Iterable[Rollup]
    ) -> int:
        records = list(records)
        pk = keys.hour_partition(connection_id, hour)
        items = [_to_item(record, pk=pk, sk=keys.emission_key(record)) for record in records]
        _check_belongs(items, connection_id, hour)
        rollup_items = [
            _to_item(rollup, pk=connection_id, sk=keys.rollup_key(hour, rollup.region, rollup.service))
            for rollup in rollups
        ]
        _check_belongs(rollup_items, connection_id, hour)
        self._replace(pk, [keys.RESOURCE_PREFIX], items)
        self._replace(connection_id, [keys.rollup_prefix(hour)], rollup_items)
        # Replaced whole, like the roll-ups, and written before the periods are refreshed from both.
        self._table.put_item(Item=_hour_top_item(connection_id, hour, tops.of_records(records)))
        return len(items)

    def hour_tops(self, connection_id: str, start: datetime, end: datetime) -> dict[datetime, ResourceTop]:
        """The tops of the hours in [start, end) that have one: one query."""
        bounds = (keys.hour_top_key(start), keys.hour_top_key(end))
        items = self._paginate(KeyConditionExpression=Key("pk").eq(connection_id) & Key("sk").between(*bounds))
        found = {datetime.fromisoformat(item["hour"]): ResourceTop.model_validate_json(item["top"]) for item in items}
        return {hour: top for hour, top in found.items() if start <= hour < end}

    def rollup_hours(self, connection_id: str, start: datetime, end: datetime) -> set[datetime]:
        """The hours in [start, end) with roll-ups: one query of their keys alone."""
        bounds = (keys.rollup_bound(start), keys.rollup_bound(end))
        condition = Key("pk").eq(connection_id) & Key("sk").between(*bounds)
        items = self._paginate(KeyConditionExpression=condition, ProjectionExpression="sk")
        hours = {datetime.fromisoformat(keys.hour_of_connection_key(item["sk"])) for item in items}
        return {hour for hour in hours if start <= hour < end}

    def read_hour(self, connection_id: str, hour: datetime) -> list[EmissionRecord]:
        items = self._query(keys.hour_partition(connection_id, hour), keys.RESOURCE_PREFIX)
        return [_from_item(EmissionRecord, item) for item in items]

    def rollups(self, connection_id: str, start: datetime, end: datetime) -> list[Rollup]:
        """Roll-ups of every hour in [start, end)."""
        return list(self.iter_rollups(connection_id, start, end))

    def iter_rollups(self, connection_id: str, start: datetime, end: datetime) -> Iterator[Rollup]:
        """Roll-ups of every hour in [start, end), in hour order, read a page (1 MB) at a time as they are taken."""
        condition = Key("pk").eq(connection_id) & Key("sk").between(keys.rollup_bound(start), keys.rollup_bound(end))
        items = self._paginate(KeyConditionExpression=condition)
        rollups = (_from_item(Rollup, item) for item in items)
        return (rollup for rollup in rollups if start <= rollup.hour < end)

    def claim_period(self, connection_id: str, granularity: Granularity, start: datetime, hour: datetime) -> Claim:
        """Take the next generation of a day or month, and count ``hour`` among its calculated hours."""
        attributes = self._table.update_item(
            Key={"pk": connection_id, "sk": keys.period_key(granularity, start)},
            UpdateExpression="ADD #generation :one, calculated_hours :hour",
            ExpressionAttributeNames={"#generation": "generation"},
            ExpressionAttributeValues={":one": 1, ":hour": {hour_key(hour)}},
            # Not UPDATED_NEW: an hour already in the set is no change, so the set would not come back.
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return Claim(generation=int(attributes["generation"]), hours=len(attributes["calculated_hours"]))

    def put_period(self, period: PeriodRollup, generation: int) -> bool:
        """Write ``period`` unless a later generation already has; False when it was refused as stale."""
        item = period_item(period)
        names = {f"#{name}": name for name in item}
        values = {f":{name}": value for name, value in item.items()}
        assignments = ", ".join(f"#{name} = :{name}" for name in item)
        # The legacy groups go; so does a top the period no longer has (a day rewritten without its hours' tops).
        removed = {"#legacy": _LEGACY_PERIOD_GROUPS} | ({} if period.top is not None else {"#oldtop": _PERIOD_TOP})
        try:
            self._table.update_item(
                Key={"pk": period.connection_id, "sk": keys.period_key(period.granularity, period.start)},
                UpdateExpression=f"SET {assignments}, #written = :generation REMOVE {', '.join(removed)}",
                ConditionExpression="attribute_not_exists(#written) OR #written < :generation",
                ExpressionAttributeNames={**names, "#written": "written_generation", **removed},
                ExpressionAttributeValues={**values, ":generation": generation},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
        *,
        with_top: bool = False,
    ) -> list[PeriodRollup]:
        """The days or months that start in [start, end), in order; one query (a page per MB).

        With ``group_by``, each period holds that grouping's groups alone, and only those are read; its top
        resources only ``with_top``.
        """
        return list(self.iter_periods(connection_id, granularity, start, end, group_by, with_top=with_top))

    def iter_periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
        *,
        with_top: bool = False,
    ) -> Iterator[PeriodRollup]:
        """``periods``, read a page at a time as they are taken."""
        groupings = tuple(_GROUPED) if group_by is None else (period_groups_attribute(group_by),)
        return self._iter_periods(connection_id, granularity, start, end, groupings, with_top)

    def period_tops(
        self, connection_id: str, granularity: Granularity, start: datetime, end: datetime
    ) -> list[PeriodRollup]:
        """The days or months that start in [start, end), with their tops and without their groups: one query."""
        return list(self._iter_periods(connection_id, granularity, start, end, (), True))

    def _iter_periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        groupings: Sequence[str],
        with_top: bool,
    ) -> Iterator[PeriodRollup]:
        bounds = (keys.period_key(granularity, start), keys.period_key(granularity, end))
        condition = Key("pk").eq(connection_id) & Key("sk").between(*bounds)
        items = self._paginate(KeyConditionExpression=condition, **_period_projection(groupings, with_top))
        periods = (period_from_item(item) for item in items if "written_generation" in item)
        return (period for period in periods if start <= period.start < end)


def _period_projection(groupings: Sequence[str], with_top: bool) -> dict[str, Any]:
    # Older items hold every grouping in one list: it is read whole (when any grouping is asked for), and the
    # period keeps what was asked for.
    legacy = (_LEGACY_PERIOD_GROUPS,) if groupings else ()
    wanted = (*_PERIOD_ATTRIBUTES, "written_generation", *groupings, *legacy, *((_PERIOD_TOP,) if with_top else ()))
    names = {f"#p{index}": name for index, name in enumerate(wanted)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _hour_top_item(connection_id: str, hour: datetime, top: ResourceTop) -> dict[str, Any]:
    return {
        "pk": connection_id,
        "sk": keys.hour_top_key(hour),
        "connection_id": connection_id,
        "hour": hour_key(hour),
        "top": top_json(top),
    }


def _check_belongs(items: Sequence[dict[str, Any]], connection_id: str, hour: datetime) -> None:
    # A record of another connection or hour must never be written under this key.
    for item in items:
        if item["connection_id"] != connection_id or datetime.fromisoformat(item["hour"]) != hour:
            raise ValueError(f"record {item['sk']} does not belong to {connection_id} at {hour_key(hour)}")


class AnomalyStore(_HourLedger):
    """The anomaly detector's hour checks and the anomalies it found, in the connection's partition of emissions."""

    def __init__(self, clients: ClientFactory, table_name: str) -> None:
        super().__init__(clients, table_name)
        self._resource = clients.resource("dynamodb")
        self._table_name = table_name

    def checks(self, connection_id: str, hours: Iterable[datetime]) -> dict[datetime, HourCheck]:
        """The stored checks of ``hours`` (at most 100): one BatchGetItem, again only for keys it left unprocessed."""
        wanted = sorted(set(hours))
        if len(wanted) > _BATCH_GET_LIMIT:
            raise ValueError(f"at most {_BATCH_GET_LIMIT} hours a read, not {len(wanted)}")
        request: dict[str, Any] = {
            self._table_name: {
                "Keys": [{"pk": connection_id, "sk": keys.anomaly_check_key(hour)} for hour in wanted],
                "ConsistentRead": True,
            }
        }
        from carbonmeter.insights.anomalies.records import HourCheck

        found: dict[datetime, HourCheck] = {}
        for _ in range(_BATCH_GET_ATTEMPTS):
            if not wanted:
                break
            response = self._resource.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table_name, []):
                check = _from_item(HourCheck, item)
                found[check.hour] = check
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        if request:
            raise RuntimeError("DynamoDB left keys of the anomaly checks unprocessed after every attempt")
        return found

    def put_check(self, check: HourCheck) -> None:
        self._table.put_item(Item=_to_item(check, pk=check.connection_id, sk=keys.anomaly_check_key(check.hour)))

    def of_series(
        self, connection_id: str, region: str, service: str, kind: str, direction: str, since: datetime
    ) -> list[Anomaly]:
        """The series' anomalies of this kind and direction that started at ``since`` or later, oldest first."""
        from carbonmeter.insights.anomalies.records import Anomaly

        prefix = keys.anomaly_series_prefix(region, service, kind, direction)
        condition = Key("pk").eq(connection_id) & Key("sk").between(
            keys.anomaly_key(region, service, kind, direction, since), prefix + "~"
        )
        return [_from_item(Anomaly, item) for item in self._paginate(KeyConditionExpression=condition)]

    def put_new(self, anomaly: Anomaly) -> bool:
        """Store ``anomaly`` unless one of the same id is stored (then False, storing nothing)."""
        try:
            self._table.put_item(Item=self._item(anomaly), ConditionExpression=Attr("pk").not_exists())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def extend(self, anomaly: Anomaly, hours: Mapping[str, HourFigures]) -> None:
        """Add (or replace) ``hours`` of the stored anomaly and move its end up to ``anomaly.end``.

        Updates, not a put: the alert's state, which another calculation may be moving, is left as it is.
        """
        item = _to_item(anomaly)
        names = {"#hours": "hours", "#end": "end"}
        values: dict[str, Any] = {":end": item["end"]}
        assignments = []
        for i, key in enumerate(sorted(hours)):
            names[f"#h{i}"] = key
            values[f":h{i}"] = item["hours"][key]
            assignments.append(f"#hours.#h{i} = :h{i}")
        self._table.update_item(
            Key=self._key(anomaly),
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames={k: v for k, v in names.items() if k != "#end"},
            ExpressionAttributeValues={k: v for k, v in values.items() if k != ":end"},
        )
        # Hour keys sort as the hours do: the end only ever moves later, whichever calculation writes last.
        with suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
            self._table.update_item(
                Key=self._key(anomaly),
                UpdateExpression="SET #end = :end",
                ConditionExpression="#end < :end",
                ExpressionAttributeNames={"#end": "end"},
                ExpressionAttributeValues={":end": item["end"]},
            )

    def get(self, anomaly: Anomaly) -> Anomaly | None:
        from carbonmeter.insights.anomalies.records import Anomaly

        item = self._table.get_item(Key=self._key(anomaly), ConsistentRead=True).get("Item")
        return None if item is None else _from_item(Anomaly, item)

    def move_alert(self, anomaly: Anomaly, before: AlertState, after: AlertState, claim: str) -> bool:
        """Set the anomaly's alert state to ``after`` if it is ``before``: exactly one caller wins a transition.

        ``claim`` (unique per caller) is written with it, so that botocore resending the same call after a lost
        reply finds its own transition done and still wins, rather than losing to itself.
        """
        try:
            self._table.update_item(
                Key=self._key(anomaly),
                UpdateExpression="SET #alert = :after, #claim = :claim",
                ConditionExpression="#alert = :before OR (#alert = :after AND #claim = :claim)",
                ExpressionAttributeNames={"#alert": "alert", "#claim": "alert_claim"},
                ExpressionAttributeValues={":after": str(after), ":before": str(before), ":claim": claim},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def between(self, connection_id: str, start: datetime, end: datetime) -> list[Anomaly]:
        """Every anomaly of the connection that overlaps [start, end), by start then series."""
        from carbonmeter.insights.anomalies.records import Anomaly

        anomalies = (_from_item(Anomaly, item) for item in self._query(connection_id, keys.ANOMALY_PREFIX))
        return sorted(
            (a for a in anomalies if a.start < end and a.end > start),
            key=lambda a: (a.start, a.region, a.service, a.kind, a.direction),
        )

    def _key(self, anomaly: Anomaly) -> dict[str, str]:
        sk = keys.anomaly_key(anomaly.region, anomaly.service, anomaly.kind, anomaly.direction, anomaly.start)
        return {"pk": anomaly.connection_id, "sk": sk}

    def _item(self, anomaly: Anomaly) -> dict[str, Any]:
        return _to_item(anomaly, **self._key(anomaly))


# BatchGetItem takes at most 100 keys; what it leaves unprocessed (throttling) is asked for again a few times.
_BATCH_GET_LIMIT = 100
_BATCH_GET_ATTEMPTS = 5
