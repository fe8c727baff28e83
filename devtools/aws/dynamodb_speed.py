"""DynamoDB answers of the embedded AWS made as fast as the items allow, byte for byte as moto makes them.

Moto turns every response into JSON by walking botocore's model of the operation: each attribute value of each
item is an ``AttributeValue`` structure of ten members (S, N, B, SS, NS, BS, M, L, NULL, BOOL), and for every member
of every value moto looks the member up under half a dozen possible names before it finds it missing. A year of
daily roll-ups (each day a map of regions, services and figures, some 900 values) then spends about 150 ms per
item there: a year by day took a minute to read. Real DynamoDB has no such cost, so the workbench removes it.

While ``dynamodb_answers_fast()`` is open, DynamoDB's JSON serializer writes an attribute value itself when it is
in the plain form moto's ``dynamo_to_dict`` makes (one type key holding a string, bytes, a boolean, a list or a
map of such values): the same keys, in the same order, with the same conversions moto's own serializer applies
(strings as they are, bytes base64-encoded, booleans as they are). Anything else (another shape, an object, an
empty map key, a value of an unexpected type) goes through moto's own path unchanged. Only the writing of the
answer changes: which items a Query or Scan returns, its page size (1 MB), LastEvaluatedKey, the 400 KB item
limit and every validation stay moto's.

Two costs of moto's Query remain, and go too while the context is open, moto still deciding everything:

- its page loop asks each item's size (moto's own ``Item.size``, a walk of every value) twice, to stop the page
  at 1 MB: within one Query the first answer is kept, so each item is walked once;
- it deep-copies the page's items so that an index's projection can trim them; a Query of the table itself
  with no projection trims nothing and its items are only read (into new dicts) to answer, so
  the stored items are answered without the copy (its filter, if any, only reads them).

And one of every projection (a Scan's or Query's ``ProjectionExpression``, an index's attributes): moto converts
the whole item to plain values once per projected name, seven times for the scheduler's Scan of every connection.
When every projected path is a top-level name, the item is converted once for them all (moto only reads the
conversion then); a nested path, which moto merges into the conversion's own dicts, still gets a fresh conversion
each.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.core import serialize
from moto.core.serialize import JSONSerializer
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

SERVICE = "dynamodb"
PROTOCOL = "json"
_ATTRIBUTE_VALUE = "AttributeValue"


class _NotPlain(Exception):
    """A value moto's own serializer must write: the fast path does not know it exactly."""


def _string(value: Any) -> str:
    # moto writes str(value); for a str that is the value itself.
    if type(value) is not str:
        raise _NotPlain
    return value


def _boolean(value: Any) -> bool:
    # The JSON serializer has no boolean conversion: moto writes the value as it is.
    if type(value) is not bool:
        raise _NotPlain
    return value


class _FastAttributeValues(JSONSerializer):
    """moto's DynamoDB JSON serializer, with plain attribute values written directly."""

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == _ATTRIBUTE_VALUE:
            try:
                written = self._attribute_value(value)
            except _NotPlain:
                pass
            else:
                serialized[self.get_serialized_name(shape, key)] = written
                return
        super()._serialize_type_structure(serialized, value, shape, key)

    def _attribute_value(self, value: Any) -> dict[str, Any]:
        # moto's dynamo_to_dict makes {type: value}; its picker then finds only that member, as written here.
        if type(value) is not dict or len(value) != 1:
            raise _NotPlain
        ((kind, inner),) = value.items()
        # Numbers, strings and maps are nearly every value of a roll-up: written without a lookup.
        if kind == "N" or kind == "S":
            return {kind: _string(inner)}
        if kind == "M":
            return {kind: self._map(inner)}
        writer = self._writers.get(kind)
        if writer is None or inner is None:
            raise _NotPlain
        return {kind: writer(self, inner)}

    def _map(self, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _NotPlain
        written: dict[str, Any] = {}
        for name, member in value.items():
            # An empty name makes moto write the member's fields into the map itself: leave that to moto.
            if type(name) is not str or not name:
                raise _NotPlain
            written[name] = self._attribute_value(member)
        return written

    def _list(self, value: Any) -> list[Any]:
        if type(value) is not list:
            raise _NotPlain
        return [self._attribute_value(member) for member in value]

    def _strings(self, value: Any) -> list[str]:
        if type(value) is not list:
            raise _NotPlain
        return [_string(member) for member in value]

    def _blob(self, value: Any) -> str:
        if type(value) is not bytes:
            raise _NotPlain
        return self._base64(value)

    def _blobs(self, value: Any) -> list[str]:
        if type(value) is not list:
            raise _NotPlain
        return [self._blob(member) for member in value]

    _writers: dict[str, Callable[[_FastAttributeValues, Any], Any]] = {
        "S": lambda _, value: _string(value),
        "N": lambda _, value: _string(value),
        "B": _blob,
        "SS": _strings,
        "NS": _strings,
        "BS": _blobs,
        "M": _map,
        "L": _list,
        "NULL": lambda _, value: _boolean(value),
        "BOOL": lambda _, value: _boolean(value),
    }


_query = threading.local()


@contextmanager
def _one_query(copies: bool) -> Iterator[None]:
    # Per thread: moto's server answers each request on its own thread.
    saved = getattr(_query, "state", None)
    _query.state = ({}, copies)
    try:
        yield
    finally:
        _query.state = saved


# moto's own parameters, read before anything wraps Table.query (another wrapper may take *args): a Query's index and
# projection are found by name whichever wrapper passes them on.
_QUERY_PARAMETERS = inspect.signature(Table.query)
if not {"index_name", "projection_expressions"} <= set(_QUERY_PARAMETERS.parameters):  # pragma: no cover
    raise ImportError("moto's Table.query no longer names index_name and projection_expressions: review this patch")


def _patched_query(original: Callable[..., Any]) -> Callable[..., Any]:
    def query(table: Table, *args: Any, **kwargs: Any) -> Any:
        asked = _QUERY_PARAMETERS.bind(table, *args, **kwargs).arguments
        # Only an index's projection trims the copies; a filter reads them (moto evaluates conditions on stored
        # items too); a projection expression builds new items from them, but keeps moto's copy all the same.
        copies = bool(asked.get("index_name") or asked.get("projection_expressions"))
        with _one_query(copies):
            return original(table, *args, **kwargs)

    return query


def _patched_size(original: Callable[[Item], int]) -> Callable[[Item], int]:
    def size(item: Item) -> int:
        state = getattr(_query, "state", None)
        if state is None:
            return original(item)
        sizes = state[0]
        key = id(item)
        if key not in sizes:
            sizes[key] = (item, original(item))  # the item is held so that its id stays its own
        return int(sizes[key][1])

    return size


def _patched_deepcopy(original: Callable[[Item, dict[int, Any]], Item]) -> Callable[[Item, dict[int, Any]], Item]:
    def deepcopy(item: Item, memo: dict[int, Any]) -> Item:
        state = getattr(_query, "state", None)
        if state is None or state[1]:
            return original(item, memo)
        return item

    return deepcopy


_projecting = threading.local()


def _top_level_names(paths: Sequence[Sequence[str]]) -> bool:
    # A top-level name (or its list element) is copied into a new dict of moto's; a nested path merges into the
    # conversion's own dicts.
    return all(len(path) == 1 for path in paths)


def _patched_project(original: Callable[[Item, Any], Item]) -> Callable[[Item, Any], Item]:
    def project(item: Item, projection_expressions: Any) -> Item:
        if not _top_level_names(projection_expressions):
            return original(item, projection_expressions)
        saved = getattr(_projecting, "held", None)
        _projecting.held = (item, None)  # per thread, as moto's server answers each request on its own
        try:
            return original(item, projection_expressions)
        finally:
            _projecting.held = saved

    return project


def _patched_to_regular_json(original: Callable[[Item], dict[str, Any]]) -> Callable[[Item], dict[str, Any]]:
    def to_regular_json(item: Item) -> dict[str, Any]:
        held = getattr(_projecting, "held", None)
        if held is None or held[0] is not item:
            return original(item)
        if held[1] is None:
            held = _projecting.held = (item, original(item))
        converted: dict[str, Any] = held[1]
        return converted

    return to_regular_json


@contextmanager
def _patched(owner: type, name: str, patch: Callable[[Any], Any]) -> Iterator[None]:
    original = owner.__dict__[name]
    setattr(owner, name, patch(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def _serializer() -> Iterator[None]:
    specific = serialize.SERVICE_SPECIFIC_SERIALIZERS
    saved = specific.get(SERVICE)
    specific[SERVICE] = {**(saved or {}), PROTOCOL: _FastAttributeValues}
    try:
        yield
    finally:
        if saved is None:
            specific.pop(SERVICE, None)
        else:
            specific[SERVICE] = saved


@contextmanager
def dynamodb_answers_fast() -> Iterator[None]:
    """DynamoDB's answers made fast while open, in the embedded server and under ``mock_aws``; see the module."""
    with ExitStack() as stack:
        stack.enter_context(_serializer())
        stack.enter_context(_patched(Table, "query", _patched_query))
        stack.enter_context(_patched(Item, "size", _patched_size))
        stack.enter_context(_patched(Item, "__deepcopy__", _patched_deepcopy))
        stack.enter_context(_patched(Item, "project", _patched_project))
        stack.enter_context(_patched(Item, "to_regular_json", _patched_to_regular_json))
        yield
