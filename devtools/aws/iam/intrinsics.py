"""Resolve the CloudFormation intrinsics of a synthesized template against the local deployment's resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class UnresolvableError(ValueError):
    """The template uses an intrinsic this resolver does not implement."""


@dataclass(frozen=True)
class Bindings:
    """What ``Ref``, ``Fn::GetAtt`` and parameters stand for locally.

    A logical id missing from ``refs`` resolves to a name that no local resource has, so a grant on a
    resource the local pipeline does not create (a log group, a dead-letter queue) can never allow a call.
    """

    partition: str
    region: str
    account_id: str
    refs: Mapping[str, str]
    attributes: Mapping[tuple[str, str], str]

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::URLSuffix": "amazonaws.com",
        }
        return pseudo.get(name) or self.refs.get(name) or f"unresolved-ref:{name}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        return self.attributes.get((logical_id, attribute)) or f"unresolved-attribute:{logical_id}.{attribute}"


def resolve(value: Any, bindings: Bindings) -> Any:
    """``value`` with every intrinsic replaced by its local value."""
    if isinstance(value, list):
        return [resolve(item, bindings) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        function = _FUNCTIONS.get(name)
        if function is not None:
            return function(argument, bindings)
        if name.startswith("Fn::"):
            raise UnresolvableError(f"{name} is not supported")
    return {key: resolve(item, bindings) for key, item in value.items()}


def _ref(argument: Any, bindings: Bindings) -> str:
    return bindings.ref(str(argument))


def _get_att(argument: Any, bindings: Bindings) -> str:
    logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
    return bindings.get_att(logical_id, attribute)


def _join(argument: Any, bindings: Bindings) -> str:
    separator, parts = argument
    return str(separator).join(str(resolve(part, bindings)) for part in resolve(parts, bindings))


def _select(argument: Any, bindings: Bindings) -> Any:
    index, items = argument
    return resolve(items, bindings)[int(index)]


def _split(argument: Any, bindings: Bindings) -> list[str]:
    separator, text = argument
    return str(resolve(text, bindings)).split(separator)


def _sub(argument: Any, bindings: Bindings) -> str:
    template, variables = (argument, {}) if isinstance(argument, str) else argument
    text = str(template)
    for name, value in variables.items():
        text = text.replace("${" + name + "}", str(resolve(value, bindings)))
    while "${" in text:
        start = text.index("${")
        end = text.index("}", start)
        name = text[start + 2 : end]
        logical_id, _, attribute = name.partition(".")
        replacement = bindings.get_att(logical_id, attribute) if attribute else bindings.ref(name)
        text = text[:start] + replacement + text[end + 1 :]
    return text


_FUNCTIONS: Mapping[str, Callable[[Any, Bindings], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Sub": _sub,
}
