"""Boto3 client factories, API-call accounting and role assumption.

Clients are built here, never at import time, so tests and the local runner can
point them at an embedded AWS and inject latency or faults through botocore events.
"""

from __future__ import annotations

import datetime
import functools
import json
import platform
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from carbonmeter import __version__
from carbonmeter.rate_limit import METRIC_DATA_LIMITS, RateLimits
from carbonmeter.settings import Settings

# (event name, handler) pairs registered on every client a factory builds,
# e.g. ("before-send.cloudwatch.GetMetricData", add_latency).
EventHook = tuple[str, Callable[..., Any]]


class ApiCallCounter:
    """Counts every AWS API call made through the clients it is attached to.

    A counter made with a ``parent`` adds every count to the parent too, so one
    job's calls can be reported alone and still roll up into the container's.
    """

    def __init__(self, parent: ApiCallCounter | None = None) -> None:
        self._parent = parent
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._metrics_requested = 0

    def on_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self._add_call(f"{model.service_model.endpoint_prefix}:{model.name}")

    def _add_call(self, key: str) -> None:
        with self._lock:
            self._calls[key] += 1
        if self._parent is not None:
            self._parent._add_call(key)

    def add_metrics_requested(self, count: int) -> None:
        with self._lock:
            self._metrics_requested += count
        if self._parent is not None:
            self._parent.add_metrics_requested(count)

    @property
    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._calls.items()))

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    @property
    def metrics_requested(self) -> int:
        """Metrics that CloudWatch bills GetMetricData for."""
        with self._lock:
            return self._metrics_requested


# How the XML APIs (EC2, RDS, S3, ...) write every timestamp: ISO 8601 in UTC, "2026-11-23T10:20:00.000Z".
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z\Z")


def parse_timestamp(value: Any) -> datetime.datetime:
    """botocore's ``parse_timestamp``, the same datetime with the same tzinfo, faster for ISO 8601 in UTC.

    botocore reads every timestamp with dateutil's general parser: for the thousands of instances and volumes a
    large account's describe answers hold, that was a fifth of the collector's CPU. The standard library reads the
    one form AWS writes directly; any other form (epoch numbers, offsets, RFC 822) goes to botocore's own parser.
    """
    if isinstance(value, str) and _ISO_UTC.match(value):
        return datetime.datetime.fromisoformat(value[:-1]).replace(tzinfo=_botocore_utc())
    return botocore.utils.parse_timestamp(value)


@functools.cache
def _botocore_utc() -> datetime.tzinfo | None:
    # The tzinfo botocore gives a "Z" timestamp: dateutil's tzutc(), or tzlocal() where the local zone is UTC.
    return botocore.utils.parse_timestamp("1970-01-01T00:00:00Z").tzinfo


def _parse_timestamps_fast(session: boto3.Session) -> None:
    # botocore's own hook for the parser of every client of the session (ResponseParserFactory.set_parser_defaults).
    session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)


# Services whose requests only CarbonMeter's code builds, in bulk, and are not checked again by botocore before they
# are sent: CloudWatch's GetMetricData requests carry 500 queries each (``cloudwatch.queries``), and botocore's
# check of them was a tenth of the collector's CPU at 10,000 resources. CloudWatch checks every request itself, and
# tests/unit/test_collector_cpu.py checks the queries against botocore's model.
UNVALIDATED_SERVICES = frozenset({"cloudwatch"})
_UNVALIDATED = Config(parameter_validation=False)

# The User-Agent of every request, fixed once: it names CarbonMeter in the customer's CloudTrail, beside the SDK's
# own versions. Without it botocore builds its string anew, twice, for every request (an eighth of the collector's
# CPU at 10,000 resources: docs/benchmarks.md, "One User-Agent a client"); what that string adds is the SDK features
# a request used, which are telemetry for AWS.
USER_AGENT = (
    f"CarbonMeter/{__version__} Boto3/{boto3.__version__} Botocore/{botocore.__version__} "
    f"Python/{platform.python_version()}"
)


class ClientFactory:
    """Builds and caches boto3 clients for one set of credentials."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        settings: Settings | None = None,
        counter: ApiCallCounter | None = None,
        hooks: Iterable[EventHook] = (),
        retry_mode: str | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.settings = settings or Settings()
        # Where GetMetricData requests are paced: the container's buckets unless a test gives its own (a fake clock).
        self.rate_limits = METRIC_DATA_LIMITS if rate_limits is None else rate_limits
        self.session = session or _default_session(self.settings)
        _parse_timestamps_fast(self.session)
        self.counter = counter or ApiCallCounter()
        self.hooks = tuple(hooks)
        self.retry_mode = retry_mode or self.settings.retry_mode
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._config = Config(
            # total_max_attempts counts the first try too (max_attempts would count retries only).
            retries={
                "mode": self.retry_mode,
                "total_max_attempts": self.settings.max_attempts,
            },
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=20,
            user_agent=USER_AGENT,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.settings.region
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                config = self._config.merge(_UNVALIDATED) if service in UNVALIDATED_SERVICES else self._config
                client = self.session.client(
                    service, region_name=region, config=config, endpoint_url=self.settings.endpoint_url
                )
                client.meta.events.register("before-call", self.counter.on_call)
                for event, handler in self.hooks:
                    client.meta.events.register(event, handler)
                self._clients[key] = client
            return self._clients[key]

    def resource(self, service: str, region: str | None = None) -> Any:
        """A boto3 resource whose client carries this factory's counter and hooks."""
        region = region or self.settings.region
        with self._lock:
            resource = self.session.resource(
                service, region_name=region, config=self._config, endpoint_url=self.settings.endpoint_url
            )
        resource.meta.client.meta.events.register("before-call", self.counter.on_call)
        for event, handler in self.hooks:
            resource.meta.client.meta.events.register(event, handler)
        return resource

    def for_session(self, session: boto3.Session, counter: ApiCallCounter | None = None) -> ClientFactory:
        """A factory for other credentials with this one's settings, hooks and rate limits (and counter, unless given).

        Its clients use the settings' retry mode (adaptive by default: they call the customer's
        account, where CloudWatch's request-rate quota is shared), whatever this factory's own is.
        """
        return ClientFactory(
            session,
            settings=self.settings,
            counter=counter or self.counter,
            hooks=self.hooks,
            rate_limits=self.rate_limits,
        )


# What a local CarbonMeter (settings.endpoint_url) is signed with: it accepts any credentials, and the caller's
# own, maybe of a real account, have no business being sent to it.
LOCAL_ENDPOINT_CREDENTIALS = {
    "aws_access_key_id": "AKIALOCALCARBONMETER",
    "aws_secret_access_key": "local-carbonmeter-placeholder",
}


def _default_session(settings: Settings) -> boto3.Session:
    if settings.endpoint_url:
        return boto3.Session(**LOCAL_ENDPOINT_CREDENTIALS)
    return boto3.Session()


class RoleAssumptionError(RuntimeError):
    """The connection's role could not be assumed."""


# STS refuses a plain-text session policy longer than this (it also caps the packed, binary form).
SESSION_POLICY_MAX_CHARS = 2048
_REDACTED = "***"


def allow_policy(actions: Sequence[str], resources: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """An IAM policy document allowing exactly ``actions``: on every resource, except those ``resources`` limits."""
    if not actions:
        raise ValueError("a policy needs at least one action")
    return {"Version": "2012-10-17", "Statement": allow_statements(actions, resources)}


def allow_statements(
    actions: Sequence[str], resources: Mapping[str, Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    """IAM statements allowing exactly ``actions``: on every resource, except those ``resources`` limits.

    One statement holds the actions on "*"; each limited action gets one of its own with its ARN patterns.
    """
    limited = resources or {}
    everywhere = sorted({action for action in actions if action not in limited})
    statements: list[dict[str, Any]] = []
    if everywhere:
        statements.append({"Effect": "Allow", "Action": everywhere, "Resource": "*"})
    statements.extend(
        {"Effect": "Allow", "Action": [action], "Resource": sorted(set(limited[action]))}
        for action in sorted(set(actions) & set(limited))
    )
    return statements


def session_policy(actions: Sequence[str], resources: Mapping[str, Sequence[str]] | None = None) -> str:
    """A session policy allowing exactly ``actions`` on every resource (or those ``resources`` names), as JSON.

    STS grants a session the intersection of this and the role's own policies, so even a
    customer role that allows more yields credentials that can only make these calls.
    """
    text = json.dumps(allow_policy(actions, resources), separators=(",", ":"))
    if len(text) > SESSION_POLICY_MAX_CHARS:
        raise ValueError(f"session policy is {len(text)} characters, STS accepts at most {SESSION_POLICY_MAX_CHARS}")
    return text


def assume_role(
    factory: ClientFactory,
    role_arn: str,
    external_id: str | None,
    session_name: str,
    counter: ApiCallCounter | None = None,
    *,
    session_actions: Sequence[str] | None = None,
    session_resources: Mapping[str, Sequence[str]] | None = None,
    read_members: ReadMembers | None = None,
) -> ClientFactory:
    """Assume ``role_arn`` (with its ExternalId) and return a factory for its credentials.

    The STS call is counted on ``factory``'s counter; calls made with the new
    credentials go to ``counter`` when given, so one job's calls can be told apart.
    With ``session_actions``, the session is scoped down to those actions, on ``session_resources`` where it names
    them (see ``session_policy``). With ``read_members``, the session's answers hold only those members of the
    structures it names (``TrimmedModelLoader``): for a reader that reads nothing else, a collection.
    A failure raises ``RoleAssumptionError`` whose text never contains the ExternalId.
    """
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": 3600}
    if external_id:
        params["ExternalId"] = external_id
    if session_actions is not None:
        params["Policy"] = session_policy(session_actions, session_resources)
    try:
        credentials = factory.client("sts").assume_role(**params)["Credentials"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
        failure = _assumption_failure(role_arn, detail, external_id)
    except BotoCoreError as exc:
        failure = _assumption_failure(role_arn, str(exc), external_id)
    else:
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            botocore_session=_core_session(read_members),
        )
        return factory.for_session(session, counter)
    # Raised outside the except blocks, so no traceback carries botocore's own text, which may quote parameters.
    raise failure


# The members of an answer's shapes that a reader reads, by (botocore service name, shape name): the customer
# sessions of a collection parse only those (``services.READ_MEMBERS``).
ReadMembers = Mapping[tuple[str, str], frozenset[str]]


class TrimmedModelLoader(botocore.loaders.Loader):
    """botocore's loader, with the structures named in ``members`` cut down to those members in service models.

    botocore parses an answer shape by shape, member by member: for a large account's DescribeInstances (an
    ``Instance`` has some 70 members, most of them nested structures) that was a third of the collector's CPU, for
    the dozen members the EC2 slice reads. An element of the answer whose member is not in the shape is skipped
    unread. A name that is not a member of its shape fails the load, so a renamed member cannot go silently missing.
    """

    def __init__(self, members: ReadMembers) -> None:
        super().__init__()
        self._members = members
        self._trimmed: dict[tuple[str, str, str | None], Any] = {}
        self._lock = threading.Lock()

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)
        kept = {shape: members for (service, shape), members in self._members.items() if service == service_name}
        if type_name != "service-2" or not kept:
            return model
        key = (service_name, type_name, api_version)
        with self._lock:
            if key not in self._trimmed:
                self._trimmed[key] = trimmed_model(model, kept, service_name)
            return self._trimmed[key]


def trimmed_model(model: Mapping[str, Any], kept: Mapping[str, frozenset[str]], service: str) -> dict[str, Any]:
    """``model`` (a service-2 document, left as it is) with each structure of ``kept`` holding only those members."""
    shapes = dict(model["shapes"])
    for name, members in kept.items():
        shape = shapes.get(name)
        if shape is None or shape.get("type") != "structure":
            raise ValueError(f"{service} has no structure {name}")
        unknown = sorted(set(members) - set(shape["members"]))
        if unknown:
            raise ValueError(f"{service} {name} has no members {unknown}")
        shapes[name] = {**shape, "members": {m: spec for m, spec in shape["members"].items() if m in members}}
    return {**model, "shapes": shapes}


@functools.cache
def _service_model_loader(members: tuple[tuple[tuple[str, str], frozenset[str]], ...] = ()) -> botocore.loaders.Loader:
    return TrimmedModelLoader(dict(members)) if members else botocore.loaders.create_loader()


def _core_session(members: ReadMembers | None = None) -> botocore.session.Session:
    # Every assumed role gets a fresh session, and a fresh session would parse botocore's service
    # models again (tens of milliseconds per client); one shared loader parses each model once.
    core = botocore.session.Session()
    core.register_component("data_loader", _service_model_loader(tuple(sorted((members or {}).items()))))
    return core


def _assumption_failure(role_arn: str, detail: str, external_id: str | None) -> RoleAssumptionError:
    message = f"cannot assume {role_arn}: {detail}"
    if external_id:
        message = message.replace(external_id, _REDACTED)
    return RoleAssumptionError(message)
