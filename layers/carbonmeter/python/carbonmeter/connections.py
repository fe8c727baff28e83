"""Registering a connection: the rules an ExternalId and a registration must meet (for the CLI and the HTTP API).

CarbonMeter assumes every customer's role with one identity, so the ExternalId is what stops one customer
from having CarbonMeter read another's account (the confused deputy, docs/security.md). These rules keep
it acceptable to STS, hard to guess and one per connection, and keep a registration from silently undoing
another. No message here ever contains an ExternalId.
"""

from __future__ import annotations

import math
import re
import secrets
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any, Protocol

from pydantic import ValidationError

from carbonmeter.models import Connection, Service, first_error_message

# STS's limits for ExternalId (AssumeRole): 2 to 1224 characters of [\w+=,.@:/-], ASCII only. The customer
# stack's AllowedPattern is the same, so anything else would only fail later, at deploy or at AssumeRole.
MAX_EXTERNAL_ID_LENGTH = 1224
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]+", re.ASCII)
# Far above STS's minimum of 2: the ExternalId must be a secret, not a label.
MIN_EXTERNAL_ID_LENGTH = 16
# Guessability. These refuse repeated, alternating and stepped strings ("aaaa...", "abab...", "0123...",
# "acegi...") and short ones; they cannot prove a string random (a pass phrase may pass), which is why
# generate_external_id exists. They sit far below what secrets.token_urlsafe(32) scores (over 200,000
# draws: at least 21 distinct characters, 4.2 bits per character, 180 bits in all) and below a uuid4's
# or secrets.token_hex(16)'s (at least 9 distinct, 2.8 bits per character, 91 bits), which operators may
# already have handed to customers.
MIN_DISTINCT_CHARACTERS = 8
MIN_BITS_PER_CHARACTER = 2.0
# No 16-character string reaches it (at most 16 x log2(16) = 64 bits): a short one must also be long.
MIN_ESTIMATED_BITS = 80
# 32 random bytes (256 bits), 43 URL-safe characters: inside STS's alphabet as it is.
GENERATED_EXTERNAL_ID_BYTES = 32


class RegistrationError(ValueError):
    """A registration that is refused, with the reason (which never contains the ExternalId)."""


class ExternalIdError(RegistrationError):
    """The ExternalId is one STS refuses, or one too easy to guess."""


class ConnectionExistsError(RegistrationError):
    """The connection id is registered already, and replacing it was not asked for."""


class SharedRoleError(RegistrationError):
    """Another connection has the same role, and sharing it was not asked for."""


class ConnectionRegistry(Protocol):
    """What registering needs of the registry (``carbonmeter.store.ConnectionStore`` in production)."""

    def list(self) -> Iterable[Connection]: ...

    def put(self, connection: Connection) -> None: ...

    def put_new(self, connection: Connection) -> bool: ...

    def set_enabled(self, connection_id: str, enabled: bool) -> None: ...


@dataclass(frozen=True)
class RegistrationRequest:
    """A connection to register, as an operator asked for it."""

    connection_id: str
    role_arn: str
    external_id: str = field(repr=False)
    regions: tuple[str, ...]
    services: tuple[Service, ...] = tuple(Service)
    # First hour the hourly run collects; default: when it is registered (or kept from the one it replaces).
    collect_from: datetime | None = None
    replace: bool = False
    allow_shared_role: bool = False


@dataclass(frozen=True)
class RegistrationResult:
    connection: Connection
    # The registration this one replaced, if any.
    replaced: Connection | None
    # Other connections registered with the same role (only when sharing it was allowed).
    shares_role_with: tuple[str, ...]

    @property
    def re_enabled(self) -> bool:
        return self.replaced is not None and not self.replaced.enabled


def validate_external_id(value: str) -> None:
    """Raise ``ExternalIdError`` unless ``value`` is an ExternalId STS accepts and hard enough to guess."""
    problem = _external_id_problem(value)
    if problem:
        raise ExternalIdError(problem)


def generate_external_id() -> str:
    """A new random ExternalId from the operating system's CSPRNG."""
    while True:
        candidate = secrets.token_urlsafe(GENERATED_EXTERNAL_ID_BYTES)
        # A draw failing the rules is astronomically rare; checking makes "always passes" certain.
        if _external_id_problem(candidate) is None:
            return candidate


def estimated_bits(value: str) -> float:
    """A rough guessing cost of ``value`` in bits: its length times its entropy per character."""
    return len(value) * bits_per_character(value)


def bits_per_character(value: str) -> float:
    """The smaller Shannon entropy of ``value``'s characters and of the steps between neighbours.

    The characters' entropy is low when a few of them repeat ("abab..."); the steps' (differences of
    neighbouring code points) is low when they follow a pattern ("0123...", "acegi..."), so that a run
    through the alphabet counts as little as a repeated letter.
    """
    steps = [ord(right) - ord(left) for left, right in pairwise(value)]
    return min(_shannon(value), _shannon(steps))


def _shannon(symbols: Sequence[Hashable]) -> float:
    total = len(symbols)
    if total == 0:
        return 0.0
    return -sum(count / total * math.log2(count / total) for count in Counter(symbols).values())


def _external_id_problem(value: str) -> str | None:
    # Each message names the rule, never the value: it may end up in a log.
    if len(value) < MIN_EXTERNAL_ID_LENGTH:
        return f"the ExternalId must be at least {MIN_EXTERNAL_ID_LENGTH} characters (a random secret)"
    if len(value) > MAX_EXTERNAL_ID_LENGTH:
        return f"the ExternalId must be at most {MAX_EXTERNAL_ID_LENGTH} characters (STS refuses longer ones)"
    if not _EXTERNAL_ID.fullmatch(value):
        return "the ExternalId may only contain ASCII letters, digits and _+=,.@:/- (STS refuses anything else)"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"the ExternalId has fewer than {MIN_DISTINCT_CHARACTERS} different characters: it is easy to guess"
    if bits_per_character(value) < MIN_BITS_PER_CHARACTER or estimated_bits(value) < MIN_ESTIMATED_BITS:
        return f"the ExternalId is easy to guess (a pattern, or under {MIN_ESTIMATED_BITS} bits of estimated entropy)"
    return None


def register_connection(store: ConnectionRegistry, request: RegistrationRequest, now: datetime) -> RegistrationResult:
    """Check ``request`` against the rules and the registry, then store it; raise ``RegistrationError`` if refused."""
    validate_external_id(request.external_id)
    candidate = _connection(request)
    _check_collect_from(request.collect_from, now)
    others = {c.connection_id: c for c in store.list()}
    previous = others.pop(request.connection_id, None)
    _check_replace(request, previous)
    _check_own_external_id(request.external_id, others.values())
    shared = _sharing_role(request, others.values())
    connection = candidate.model_copy(update={"created_at": _created_at(request, previous, now)})
    _store(store, connection, previous)
    return RegistrationResult(connection=connection, replaced=previous, shares_role_with=shared)


def _connection(request: RegistrationRequest) -> Connection:
    try:
        return Connection(
            connection_id=request.connection_id,
            role_arn=request.role_arn,
            external_id=request.external_id,
            regions=request.regions,
            services=request.services,
        )
    except ValidationError as exc:
        raise RegistrationError(first_error_message(exc)) from None


def _check_collect_from(collect_from: datetime | None, now: datetime) -> None:
    # The hourly run would wait for that hour and collect nothing meanwhile, without saying why.
    if collect_from is not None and collect_from > now:
        raise RegistrationError("the first hour to collect is in the future")


def _check_replace(request: RegistrationRequest, previous: Connection | None) -> None:
    # Storing over a connection re-enables it and resets its last success and error: never by accident.
    if previous is None or request.replace:
        return
    state = "registered" if previous.enabled else "registered and disabled"
    effect = "resets its last success and error" if previous.enabled else "re-enables it"
    raise ConnectionExistsError(
        f"connection {previous.connection_id!r} is already {state}; replacing it {effect}, so ask for it explicitly"
    )


def _check_own_external_id(external_id: str, others: Iterable[Connection]) -> None:
    # One ExternalId per connection: a shared one would let either customer's role be read for the other.
    if any(other.external_id == external_id for other in others):
        raise RegistrationError("that ExternalId is already used by another connection; give each connection its own")


def _sharing_role(request: RegistrationRequest, others: Collection[Connection]) -> tuple[str, ...]:
    # IAM role names are unique per account whatever their case, so the comparison ignores it.
    role = request.role_arn.casefold()
    shared = tuple(sorted(c.connection_id for c in others if c.role_arn.casefold() == role))
    # A second connection on one role counts the account twice, or tries to read it for someone else.
    if shared and not request.allow_shared_role:
        raise SharedRoleError(f"role {request.role_arn} is already the role of connection(s) {', '.join(shared)}")
    return shared


def _created_at(request: RegistrationRequest, previous: Connection | None, now: datetime) -> datetime:
    # A replaced connection keeps its start, so the hourly run neither skips nor re-collects its past hours.
    if request.collect_from is not None:
        return request.collect_from
    if previous is not None and previous.created_at is not None:
        return previous.created_at
    return now


def _store(store: ConnectionRegistry, connection: Connection, previous: Connection | None) -> None:
    if previous is not None:
        store.put(connection)
        return
    # Conditional: two registrations of one new id at the same time must not both succeed and one vanish.
    if not store.put_new(connection):
        raise ConnectionExistsError(f"connection {connection.connection_id!r} was registered meanwhile")


def list_connections(store: ConnectionRegistry) -> list[dict[str, Any]]:
    """Every connection as an operator may see it, by id: everything but the ExternalId."""
    connections = sorted(store.list(), key=lambda connection: connection.connection_id)
    return [connection.model_dump(mode="json", exclude={"external_id"}) for connection in connections]


def disable_connection(store: ConnectionRegistry, connection_id: str) -> None:
    """Stop collecting a connection; its history stays (an unknown id raises UnknownConnectionError)."""
    store.set_enabled(connection_id, False)
