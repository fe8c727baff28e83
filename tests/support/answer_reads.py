"""Which members of botocore answer shapes a reader reads: the parsed structures of the named shapes, wrapped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

ShapeKey = tuple[str, str]
# What a reader that walks a whole structure (iterating it, copying it) is recorded as having read.
EVERY_MEMBER = "*"


class MemberReads:
    """An ``after-call`` hook that wraps each parsed structure of ``shapes`` so that what is read of it is noted.

    ``read`` maps (botocore service name, shape name) to the members read: a key looked up (``[]``, ``get``,
    ``in``), or ``EVERY_MEMBER`` for a structure iterated whole.
    """

    def __init__(self, shapes: Iterable[ShapeKey]) -> None:
        self.shapes = set(shapes)
        self.read: defaultdict[ShapeKey, set[str]] = defaultdict(set)
        self.wrapped: defaultdict[ShapeKey, int] = defaultdict(int)

    def hook(self) -> tuple[str, Any]:
        return ("after-call", self._after_call)

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.output_shape is not None:
            self._walk(model.service_model.service_name, model.output_shape, parsed)

    def _walk(self, service: str, shape: Shape, value: Any) -> Any:
        if isinstance(shape, StructureShape) and isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    dict.__setitem__(value, name, self._walk(service, member, dict.__getitem__(value, name)))
            key = (service, shape.name)
            if key in self.shapes:
                self.wrapped[key] += 1
                return _ReadStructure(value, self.read[key])
        elif isinstance(shape, ListShape) and isinstance(value, list):
            value[:] = [self._walk(service, shape.member, item) for item in value]
        elif isinstance(shape, MapShape) and isinstance(value, dict):
            for name, item in value.items():
                value[name] = self._walk(service, shape.value, item)
        return value


class _ReadStructure(dict[str, Any]):
    """A parsed structure noting the members read of it."""

    def __init__(self, value: dict[str, Any], read: set[str]) -> None:
        super().__init__(value)
        self._read = read

    def __getitem__(self, key: str) -> Any:
        self._read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._read.add(str(key))
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._read.add(EVERY_MEMBER)
        return super().__iter__()

    def keys(self) -> Any:
        self._read.add(EVERY_MEMBER)
        return super().keys()

    def items(self) -> Any:
        self._read.add(EVERY_MEMBER)
        return super().items()

    def values(self) -> Any:
        self._read.add(EVERY_MEMBER)
        return super().values()
