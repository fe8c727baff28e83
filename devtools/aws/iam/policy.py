"""IAM policy evaluation for the calls the local pipeline makes: allow, explicit deny, wildcards, conditions.

The embedded AWS enforces no IAM unless asked, and moto's own evaluator matches actions case-sensitively,
treats ``.`` and ``?`` in patterns as regular-expression syntax and turns a failed condition on an Allow into
a Deny. This one follows IAM's documented rules for identity policies, session policies and trust policies:
an explicit Deny wins, otherwise some Allow must match; actions match case-insensitively, resources
case-sensitively; ``*`` and ``?`` are the only wildcards; every condition of a statement must hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ConditionValues = Mapping[str, str]


class UnsupportedPolicyError(ValueError):
    """A policy uses an element this evaluator does not implement; it refuses to guess."""


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob)
    return re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)


def glob_match(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches an IAM pattern, where ``*`` is any run of characters and ``?`` one character."""
    return _pattern(glob, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _string_like(expected: str, actual: str) -> bool:
    return glob_match(expected, actual)


# Operators the project's policies use; a policy with any other one is refused, not guessed at.
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_equals,
    "StringLike": _string_like,
    "ArnEquals": _string_equals,
    "ArnLike": _string_like,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        unknown = set(raw) - {
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "Condition",
        }
        if unknown or raw.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"cannot evaluate statement {dict(raw)}")
        conditions = {
            operator: {key: tuple(str(v) for v in _as_list(values)) for key, values in keys.items()}
            for operator, keys in raw.get("Condition", {}).items()
        }
        missing = set(conditions) - set(_OPERATORS)
        if missing:
            raise UnsupportedPolicyError(f"condition operators {sorted(missing)} are not supported")
        return cls(
            effect=raw["Effect"],
            actions=tuple(_as_list(raw.get("Action", []))),
            not_actions=tuple(_as_list(raw.get("NotAction", []))),
            resources=tuple(_as_list(raw.get("Resource", []))),
            not_resources=tuple(_as_list(raw.get("NotResource", []))),
            principals=tuple(_principals(raw.get("Principal"))),
            conditions=conditions,
        )

    def applies(self, action: str, resource: str | None, principal: str | None, context: ConditionValues) -> bool:
        return (
            self._action_matches(action)
            and self._resource_matches(resource)
            and self._principal_matches(principal)
            and self._conditions_hold(context)
        )

    def _action_matches(self, action: str) -> bool:
        if self.not_actions:
            return not any(glob_match(p, action, ignore_case=True) for p in self.not_actions)
        return any(glob_match(p, action, ignore_case=True) for p in self.actions)

    def _resource_matches(self, resource: str | None) -> bool:
        # Trust policies name no resource: the role they belong to is the resource.
        if resource is None:
            return True
        if self.not_resources:
            return not any(glob_match(p, resource) for p in self.not_resources)
        return any(glob_match(p, resource) for p in self.resources)

    def _principal_matches(self, principal: str | None) -> bool:
        if principal is None or not self.principals:
            return principal is None
        return any(_principal_is(p, principal) for p in self.principals)

    def _conditions_hold(self, context: ConditionValues) -> bool:
        # Within an operator and across operators every key must hold; any listed value may match (OR).
        return all(
            key in context and any(_OPERATORS[operator](expected, context[key]) for expected in values)
            for operator, keys in self.conditions.items()
            for key, values in keys.items()
        )


def _principal_is(expected: str, principal: str) -> bool:
    # An account's root stands for every principal of that account (whose own policies then decide).
    if expected.endswith(":root"):
        return principal.split(":")[4:5] == expected.split(":")[4:5]
    return expected in ("*", principal)


def _principals(raw: Any) -> Iterable[str]:
    if raw is None:
        return []
    if raw == "*":
        return ["*"]
    return [str(p) for kind, values in raw.items() if kind == "AWS" for p in _as_list(values)]


@dataclass(frozen=True)
class Policy:
    """One or more policy documents of one kind (identity, session or trust), evaluated as one."""

    statements: tuple[Statement, ...]

    @classmethod
    def of(cls, documents: Iterable[Mapping[str, Any]]) -> Policy:
        return cls(tuple(Statement.parse(raw) for document in documents for raw in _as_list(document["Statement"])))

    def allows(
        self,
        action: str,
        resource: str | None,
        *,
        principal: str | None = None,
        context: ConditionValues | None = None,
    ) -> bool:
        values = context or {}
        matching = [s for s in self.statements if s.applies(action, resource, principal, values)]
        return bool(matching) and all(s.effect == "Allow" for s in matching)


def allowed_by_all(policies: Sequence[Policy], action: str, resource: str) -> bool:
    """IAM's rule for a session: a call must be allowed by every policy that bounds it (role and session)."""
    return all(policy.allows(action, resource) for policy in policies)
