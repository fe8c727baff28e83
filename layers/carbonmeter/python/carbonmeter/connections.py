"""Managing connections: the rules an ExternalId and a registration must meet, and the check that CarbonMeter can
read the account (use cases of the CLI and the HTTP API).

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
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from carbonmeter import monitoring
from carbonmeter.aws import ClientFactory, RoleAssumptionError, assume_role
from carbonmeter.collection import REGION_NOT_ENABLED_CODES
from carbonmeter.collection_windows import DEFAULT_WINDOW_HOURS, check_window_hours
from carbonmeter.models import Connection, Region, Service, first_error_message
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES

# STS's limits for ExternalId (AssumeRole): 2 to 1224 characters of [\w+=,.@:/-], ASCII only. The customer
# stack's AllowedPattern is the same, so anything else would only fail later, at deploy or at AssumeRole.
MAX_EXTERNAL_ID_LENGTH = 1224
STS_MIN_EXTERNAL_ID_LENGTH = 2
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


class AccessCheckError(RegistrationError):
    """The role could not be assumed, or some region could not be read with it."""

    def __init__(self, check: AccessCheck) -> None:
        super().__init__(check.summary())
        self.check = check


class ConnectionEnabledError(RegistrationError):
    """Removing an enabled connection, which the hourly run is still queueing."""


class ConnectionRegistry(Protocol):
    """What the use cases need of the registry (``carbonmeter.store.ConnectionStore`` in production)."""

    def list(self) -> Iterable[Connection]: ...

    def get(self, connection_id: str) -> Connection: ...

    def put(self, connection: Connection) -> None: ...

    def put_new(self, connection: Connection) -> bool: ...

    def set_enabled(self, connection_id: str, enabled: bool) -> None: ...

    def delete(self, connection_id: str) -> None: ...


@dataclass(frozen=True)
class RegionCheck:
    """One read in one region with the assumed role: ``error`` is None when it worked."""

    region: str
    error: str | None = None
    # The account has not enabled the region (an opt-in region): the collector skips it every hour.
    not_enabled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AccessCheck:
    """Whether CarbonMeter can assume a connection's role with its ExternalId, and read each of its regions."""

    role_arn: str
    # Why the role could not be assumed (then no region was tried).
    assume_error: str | None
    regions: tuple[RegionCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return self.assume_error is None and all(region.ok for region in self.regions)

    def summary(self) -> str:
        if self.assume_error is not None:
            return self.assume_error
        failed = [region for region in self.regions if not region.ok]
        if not failed:
            return f"assumed {self.role_arn} and read {len(self.regions)} region(s)"
        details = "; ".join(f"{region.region}: {region.error}" for region in failed)
        return (
            f"assumed {self.role_arn}, but {len(failed)} of {len(self.regions)} region(s) could not be read: {details}"
        )


# What checking a registration needs: role, ExternalId and regions in, the check out (``check_access`` bound to
# CarbonMeter's clients in production).
AccessChecker = Callable[[str, str, Sequence[str]], AccessCheck]
_MAX_ERROR_TEXT = 200
ACCESS_CHECKS: TypeAdapter[AccessCheck] = TypeAdapter(AccessCheck)


class AccessCheckRequest(BaseModel):
    """A check asked of the collector function: it alone may assume customers' roles (their trust policy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role_arn: str
    external_id: str = Field(min_length=2, max_length=1224, repr=False)
    regions: tuple[Region, ...] = Field(min_length=1, max_length=64)


class AccessCheckEvent(BaseModel):
    """The direct invocation of the collector that asks for a check (its queue's events carry ``Records``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_access: AccessCheckRequest


class CollectorCheckError(RuntimeError):
    """The collector function could not be asked, or failed while checking."""


def check_access_through_collector(clients: ClientFactory, function_name: str) -> AccessChecker:
    """An ``AccessChecker`` that asks the deployed collector function, whose role the customers' roles trust.

    ``clients`` are the operator's (they need lambda:InvokeFunction on it). The ExternalId travels in the request
    payload, which Lambda does not log; the answer never contains it.
    """

    def check(role_arn: str, external_id: str, regions: Sequence[str]) -> AccessCheck:
        request = AccessCheckEvent(
            check_access=AccessCheckRequest(role_arn=role_arn, external_id=external_id, regions=tuple(regions))
        )
        response = clients.client("lambda").invoke(FunctionName=function_name, Payload=request.model_dump_json())
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise CollectorCheckError(f"the collector {function_name} failed the check: {_lambda_error(payload)}")
        return ACCESS_CHECKS.validate_json(payload)

    return check


def _lambda_error(payload: bytes) -> str:
    try:
        error = TypeAdapter(dict[str, Any]).validate_json(payload)
    except ValidationError:
        return payload.decode(errors="replace")[:_MAX_ERROR_TEXT]
    return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"[:_MAX_ERROR_TEXT]


def check_access(
    clients: ClientFactory, role_arn: str, external_id: str, regions: Sequence[str], session_name: str
) -> AccessCheck:
    """Assume ``role_arn`` as the collector does (ExternalId, read-only session policy), then read once per region.

    The read is the first one every collection makes (EC2's DescribeInstances), so a region that passes
    here fails later only if the role's policy lacks another service's action. Nothing is written.
    """
    try:
        customer = assume_role(
            clients, role_arn, external_id, session_name, session_actions=READ_ACTIONS, session_resources=READ_RESOURCES
        )
    except RoleAssumptionError as exc:
        return AccessCheck(role_arn, assume_error=str(exc))
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(regions)))) as pool:
        checked = tuple(pool.map(lambda region: _read_one(customer, region), regions))
    return AccessCheck(role_arn, assume_error=None, regions=checked)


def _read_one(customer: ClientFactory, region: str) -> RegionCheck:
    try:
        customer.client("ec2", region).describe_instances(MaxResults=5)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        text = f"{code}: {error.get('Message', '')}".rstrip(": ")[:_MAX_ERROR_TEXT]
        if code in REGION_NOT_ENABLED_CODES:
            return RegionCheck(region, error=f"region not enabled in the account ({text})", not_enabled=True)
        return RegionCheck(region, error=text)
    except BotoCoreError as exc:
        return RegionCheck(region, error=str(exc)[:_MAX_ERROR_TEXT])
    return RegionCheck(region)


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
    # Whose users the HTTP API shows it to; None: no API user sees it (the CLI does).
    tenant: str | None = None
    # Hours per collection (1, 3, 6, 12 or 24); None: the deployment's.
    window_hours: int | None = None


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


def external_id_problem(value: str) -> str | None:
    """Why a connection may not be registered with ``value`` as its ExternalId (STS's rules and ours), or None."""
    return _external_id_problem(value)


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


def sts_external_id_problem(value: str) -> str | None:
    """Why STS would refuse ``value`` as an ExternalId, or None: what an existing role's ExternalId must meet."""
    # Each message names the rule, never the value: it may end up in a log.
    if len(value) < STS_MIN_EXTERNAL_ID_LENGTH:
        return f"the ExternalId must be at least {STS_MIN_EXTERNAL_ID_LENGTH} characters (STS refuses shorter ones)"
    if len(value) > MAX_EXTERNAL_ID_LENGTH:
        return f"the ExternalId must be at most {MAX_EXTERNAL_ID_LENGTH} characters (STS refuses longer ones)"
    if not _EXTERNAL_ID.fullmatch(value):
        return "the ExternalId may only contain ASCII letters, digits and _+=,.@:/- (STS refuses anything else)"
    return None


def _external_id_problem(value: str) -> str | None:
    if len(value) < MIN_EXTERNAL_ID_LENGTH:
        return f"the ExternalId must be at least {MIN_EXTERNAL_ID_LENGTH} characters (a random secret)"
    sts_problem = sts_external_id_problem(value)
    if sts_problem:
        return sts_problem
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"the ExternalId has fewer than {MIN_DISTINCT_CHARACTERS} different characters: it is easy to guess"
    if bits_per_character(value) < MIN_BITS_PER_CHARACTER or estimated_bits(value) < MIN_ESTIMATED_BITS:
        return f"the ExternalId is easy to guess (a pattern, or under {MIN_ESTIMATED_BITS} bits of estimated entropy)"
    return None


def register_connection(
    store: ConnectionRegistry,
    request: RegistrationRequest,
    now: datetime,
    *,
    check: AccessChecker | None = None,
) -> RegistrationResult:
    """Check ``request`` against the rules and the registry, then store it; raise ``RegistrationError`` if refused.

    With ``check``, the role must also be assumable with the ExternalId and every region readable
    (``AccessCheckError`` otherwise), so a wrong ARN or ExternalId shows now, not at the next hourly run.
    """
    validate_external_id(request.external_id)
    candidate = _connection(request)
    _check_collect_from(request.collect_from, now)
    others = {c.connection_id: c for c in store.list()}
    previous = others.pop(request.connection_id, None)
    _check_replace(request, previous)
    _check_own_external_id(request.external_id, others.values())
    shared = _sharing_role(request, others.values())
    # Last: the rules above cost nothing, this calls the customer's account.
    if check is not None:
        access = check(request.role_arn, request.external_id, request.regions)
        if not access.ok:
            raise AccessCheckError(access)
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
            tenant=request.tenant,
            window_hours=request.window_hours,
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


def list_connections(
    store: ConnectionRegistry, default_window_hours: int = DEFAULT_WINDOW_HOURS
) -> list[dict[str, Any]]:
    """Every connection as an operator may see it, by id: everything but the ExternalId; with the window it is
    collected at (its own, else ``default_window_hours``, the deployment's) and its monthly monitoring cost."""
    connections = sorted(store.list(), key=lambda connection: connection.connection_id)
    return [
        connection.model_dump(mode="json", exclude={"external_id"}) | _monitoring(connection, default_window_hours)
        for connection in connections
    ]


def _monitoring(connection: Connection, default_window_hours: int) -> dict[str, Any]:
    cost = monitoring_cost(connection, default_window_hours)
    return {
        "collection_window_hours": cost.window_hours,
        "monitoring_usd_per_month": cost.usd_per_month,
        "monitoring_billed_to": monitoring.BILLED_TO,
    }


class _Schedulable(Protocol):
    @property
    def window_hours(self) -> int | None: ...

    @property
    def metrics_per_collection(self) -> int | None: ...


def monitoring_cost(connection: _Schedulable, default_window_hours: int) -> monitoring.MonitoringCost:
    """A connection's monthly GetMetricData cost at the window it is collected at."""
    return monitoring.MonitoringCost(
        window_hours=connection.window_hours or default_window_hours,
        metrics_per_collection=connection.metrics_per_collection,
    )


class WindowRegistry(Protocol):
    def set_window_hours(self, connection_id: str, window_hours: int | None) -> None: ...


def set_connection_window(store: WindowRegistry, connection_id: str, window_hours: int | None) -> None:
    """Collect a connection every ``window_hours`` from the next run on (None: at the deployment's window).

    Hours already stored stay; the next run queues the hours due by the new window.
    """
    if window_hours is not None:
        try:
            check_window_hours(window_hours)
        except ValueError as exc:
            raise RegistrationError(str(exc)) from None
    store.set_window_hours(connection_id, window_hours)


def disable_connection(store: ConnectionRegistry, connection_id: str) -> None:
    """Stop collecting a connection; its history stays (an unknown id raises UnknownConnectionError)."""
    store.set_enabled(connection_id, False)


def enable_connection(store: ConnectionRegistry, connection_id: str) -> None:
    """Collect a disabled connection again; the hourly run catches up on the hours it missed, within its look-back."""
    store.set_enabled(connection_id, True)


def remove_connection(store: ConnectionRegistry, connection_id: str) -> Connection:
    """Delete a disabled connection from the registry, and return what it was.

    Only the registry entry goes (with the ExternalId): the usage, statuses and emissions stored under its id
    stay in their tables, unread (``status`` and ``report`` refuse an unregistered id), and come back into view
    if the id is registered again. An enabled connection is refused: the hourly run may have queued its hours,
    which would then fail and land in the dead-letter queue.
    """
    connection = store.get(connection_id)
    if connection.enabled:
        raise ConnectionEnabledError(
            f"connection {connection_id!r} is enabled: disable it first, so the hourly run stops queueing its hours"
        )
    store.delete(connection_id)
    return connection


def check_connection(store: ConnectionRegistry, connection_id: str, check: AccessChecker) -> AccessCheck:
    """Whether a registered connection's role can be assumed with its ExternalId and each of its regions read."""
    connection = store.get(connection_id)
    return check(connection.role_arn, connection.external_id, connection.regions)
