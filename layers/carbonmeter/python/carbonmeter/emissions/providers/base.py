"""What every emissions provider offers, and how a provider says it could not estimate a record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from carbonmeter import keys
from carbonmeter.models import EmissionRecord, UsageRecord

# Prefix of the flag on a record that another provider produced because the chosen one failed.
FALLBACK_FLAG_PREFIX = "provider_fallback"

# Short, stable reasons (they end up in flags, which are counted and compared, so never free text).
REASON_TIMEOUT = "timeout"
REASON_UNREACHABLE = "unreachable"
REASON_SERVER_ERROR = "server_error"
REASON_BAD_RESPONSE = "bad_response"
REASON_REJECTED = "rejected"
REASON_MISSING = "missing_from_response"
REASON_INSTANCE_TYPE_UNKNOWN = "instance_type_unknown"
REASON_REGION_UNKNOWN = "region_unknown"
REASON_SECRET_UNAVAILABLE = "secret_unavailable"  # noqa: S105 (a reason, not a secret)
REASON_ERROR = "error"


def fallback_flag(provider: str, reason: str) -> str:
    """The flag marking a record produced by the fallback because ``provider`` failed for ``reason``."""
    return f"{FALLBACK_FLAG_PREFIX}:{provider}:{reason}"


class ProviderError(RuntimeError):
    """A provider could not produce figures; ``reason`` is one of the short ``REASON_*`` strings."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Unestimated:
    """A usage record a provider could not estimate, and why."""

    usage: UsageRecord
    reason: str


Outcome = EmissionRecord | Unestimated


@runtime_checkable
class EmissionsProvider(Protocol):
    """Turns usage records into emission records, one per usage record, in the same order."""

    name: str

    def estimate(self, usages: Sequence[UsageRecord]) -> list[EmissionRecord]: ...


@runtime_checkable
class PartialProvider(Protocol):
    """A provider that may fail for some records only (a remote API), telling which and why.

    ``try_estimate`` returns one outcome per usage record, in the same order; it raises
    ``ProviderError`` (or anything else) when the whole batch failed.
    """

    name: str

    def try_estimate(self, usages: Sequence[UsageRecord]) -> list[Outcome]: ...


def strict(provider: PartialProvider, usages: Sequence[UsageRecord]) -> list[EmissionRecord]:
    """Every record from ``provider`` itself, or ``ProviderError`` naming the first one it could not estimate."""
    records = []
    for outcome in provider.try_estimate(usages):
        if isinstance(outcome, Unestimated):
            raise ProviderError(
                outcome.reason, f"{provider.name} could not estimate {keys.resource_key(outcome.usage)}"
            )
        records.append(outcome)
    return records
