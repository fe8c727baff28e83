"""Fault injection for boto3 clients, through botocore's event hooks.

A ``Faults`` object holds rules ("throttle 30% of CloudWatch GetMetricData requests twice
each", "DynamoDB drops half of every BatchWriteItem", "AssumeRole refuses this
ExternalId"...) and exposes them as ``(event, handler)`` pairs for ``ClientFactory(hooks=...)``.
It counts what it injected, so a test can prove that a fault really happened before it
asserts that nothing was lost or doubled.

Where faults are injected matters. botocore retries inside its HTTP send loop, so error
responses are returned from ``before-send``: the request never reaches the service and the
client's retry mode (standard or adaptive, with jittered exponential backoff) sees the
error exactly as it would see one from AWS, and retries it or not. A response returned
from ``before-call`` would skip that loop and never be retried.

Decisions are deterministic for a given seed: whether a request is picked depends only on
the seed and the request's content (URL and body, identical across retries of one call),
never on thread timing. Counters that span requests (``after``, ``limit``) do depend on the
order calls arrive in; with parallel region workers, use them only on calls made from one
thread, such as the collector's DynamoDB writes.

This module has no pytest dependency, so a soak script can use it too.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.httpsession import URLLib3Session
from botocore.model import ShapeResolver
from botocore.retries import standard
from botocore.serialize import CBORSerializer

from devtools.services import CLIENT_FAULTS

# A hook as ClientFactory takes it: (botocore event name, handler).
Hook = tuple[str, Callable[..., Any]]
Predicate = Callable[[AWSPreparedRequest], bool]

# What each client's service answers when it throttles, and for credentials used in a region the account has not
# enabled: (error code, HTTP status), from the services' fault shapes (``devtools/services/``). By client name,
# since ``region_not_enabled`` numbers its rules in this order and the seeded choice of requests follows the numbers.
THROTTLING: dict[str, tuple[str, int]] = {
    shape.client: shape.throttling for shape in sorted(CLIENT_FAULTS, key=lambda shape: shape.client)
}
REGION_NOT_ENABLED: dict[str, tuple[str, int]] = {
    shape.client: shape.region_not_enabled
    for shape in sorted(CLIENT_FAULTS, key=lambda shape: shape.client)
    if shape.region_not_enabled is not None
}
ALWAYS = 1_000_000  # ``times`` for a fault that outlasts every retry

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/")
_CBOR_ERROR = ShapeResolver(
    {
        "Error": {"type": "structure", "members": {"__type": {"shape": "Text"}, "message": {"shape": "Text"}}},
        "Text": {"type": "string"},
    }
).get_shape_by_name("Error")


class InvocationTimeout(BaseException):
    """Lambda stopping an invocation at its timeout.

    A BaseException, so that none of the code under test can catch it and clean up:
    a timed-out Lambda runs nothing more. ``lambda_timeouts`` turns it into the failed
    invocation the SQS event source sees.
    """


def lambda_timeouts(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Wrap a Lambda handler so an ``InvocationTimeout`` fails the whole invocation, as Lambda does.

    The SQS event source then returns every message of the batch to the queue, those
    already processed included.
    """

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return handler(event, context)
        except InvocationTimeout as timeout:
            raise RuntimeError(f"Task timed out: {timeout}") from None

    return invoke


@dataclass
class Rule:
    """Which sends fail, and how.

    A send matches when its service, operation (``None`` for every one) and ``when`` predicate
    match. Of the matching requests, a ``probability`` share is picked (by seed and content);
    a picked request fails its first ``times`` attempts and then goes through. ``after`` lets
    that many matching sends through first; ``limit`` caps the faults injected.
    """

    service: str
    operation: str | None
    label: str
    code: str = ""
    status: int = 500
    times: int = 1
    probability: float = 1.0
    after: int = 0
    limit: int | None = None
    when: Predicate | None = None
    deliver: bool = False
    exception: BaseException | None = None
    message: str = ""
    matched: int = 0
    injected: int = 0
    # The wire protocol of its answers, found from the client name before ``service`` becomes botocore's event
    # name for it (the two differ for some services: ``apigateway`` sends as ``api-gateway``).
    protocol: str = ""

    def matches(self, service: str, operation: str, request: AWSPreparedRequest) -> bool:
        if service != self.service or self.operation not in (None, operation):
            return False
        return self.when is None or self.when(request)


class Faults:
    """A set of fault rules, their hooks, and counts of what they injected."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rules: list[Rule] = []
        self.armed = True
        self.injected: Counter[str] = Counter()
        self.sends: Counter[str] = Counter()
        self._attempts: Counter[tuple[int, str]] = Counter()
        self._unprocessed_calls = 0
        self._unprocessed: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._http: URLLib3Session | None = None

    # --- rules ------------------------------------------------------------------------------

    def throttle(self, service: str, operation: str | None = None, **schedule: Any) -> Rule:
        """The service's own throttling error, which every retry mode retries with backoff."""
        code, status = THROTTLING.get(service, ("ThrottlingException", 400))
        return self.add(Rule(service, operation, "throttled", code=code, status=status, **schedule))

    def server_error(self, service: str, operation: str | None = None, status: int = 503, **schedule: Any) -> Rule:
        """A 5xx the request never got past; retried as transient."""
        return self.add(Rule(service, operation, f"http{status}", code="ServiceUnavailable", status=status, **schedule))

    def error(self, service: str, operation: str | None, code: str, status: int, **schedule: Any) -> Rule:
        """Any error response, e.g. ``AccessDenied``/403 (not retried)."""
        return self.add(Rule(service, operation, code, code=code, status=status, **schedule))

    def lose_replies(self, service: str, operation: str | None = None, **schedule: Any) -> Rule:
        """The request reaches the service and is applied, but the reply is lost (a 500 comes back).

        The retry repeats a call that already took effect, as after a dropped connection.
        """
        return self.add(
            Rule(service, operation, "reply-lost", code="InternalServerError", status=500, deliver=True, **schedule)
        )

    def crash(self, service: str, operation: str, exception: BaseException, after: int = 0) -> Rule:
        """Raise ``exception`` at the first matching send after ``after`` successful ones, once."""
        rule = Rule(service, operation, f"raised {type(exception).__name__}", exception=exception, after=after)
        rule.limit = 1
        return self.add(rule)

    def region_not_enabled(self, region: str, services: tuple[str, ...] = tuple(REGION_NOT_ENABLED)) -> list[Rule]:
        """Every call signed for ``region`` fails as AWS fails it when the account has not opted in."""
        in_region: Predicate = lambda request: request_region(request) == region  # noqa: E731
        return [
            self.add(Rule(service, None, "region-not-enabled", code=code, status=status, times=ALWAYS, when=in_region))
            for service, (code, status) in REGION_NOT_ENABLED.items()
            if service in services
        ]

    def unprocessed_items(self, calls: int, keep: int) -> None:
        """The first ``calls`` BatchWriteItem calls write only their first ``keep`` requests.

        The rest come back in ``UnprocessedItems``, as DynamoDB returns them when it is short of
        capacity; the caller must resend them.
        """
        self._unprocessed = (calls, keep)

    def add(self, rule: Rule) -> Rule:
        rule.protocol = rule.protocol or protocol_of(rule.service)
        rule.service = service_id(rule.service)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule and count."""
        with self._lock:
            self.rules.clear()
            self.injected.clear()
            self.sends.clear()
            self._attempts.clear()
            self._unprocessed = None
            self._unprocessed_calls = 0

    @contextmanager
    def disarmed(self) -> Iterator[None]:
        """Let every call through (sends are still counted) while the block runs."""
        self.armed = False
        try:
            yield
        finally:
            self.armed = True

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def injected_into(self, service: str, operation: str | None = None) -> int:
        prefix = f"{service_id(service)}:{operation or ''}"
        return sum(count for key, count in self.injected.items() if key.startswith(prefix))

    # --- hooks ------------------------------------------------------------------------------

    def hooks(self) -> list[Hook]:
        return [
            ("before-send", self._before_send),
            ("before-call.dynamodb.BatchWriteItem", self._hold_back_items),
            # More specific than boto3's own after-call.dynamodb handler, so it runs first and the
            # held-back items, still in wire format, are deserialised with the rest of the response.
            ("after-call.dynamodb.BatchWriteItem", self._report_unprocessed),
        ]

    def _before_send(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
        _event, service, operation = event_name.split(".", 2)
        key = _request_key(event_name, request)
        with self._lock:
            self.sends[f"{service}:{operation}"] += 1
            rule = self._decide(service, operation, request, key) if self.armed else None
        if rule is None:
            return None
        if rule.exception is not None:
            raise rule.exception
        if rule.deliver:
            self._deliver(request)
        message = rule.message or f"injected fault ({rule.label})"
        return error_response(rule.protocol, rule.code, rule.status, message)

    def _decide(self, service: str, operation: str, request: AWSPreparedRequest, key: str) -> Rule | None:
        for index, rule in enumerate(self.rules):
            if not rule.matches(service, operation, request):
                continue
            rule.matched += 1
            attempt = self._attempts[(index, key)]
            self._attempts[(index, key)] += 1
            if rule.matched <= rule.after or (rule.limit is not None and rule.injected >= rule.limit):
                continue
            if attempt >= rule.times or _chance(self.seed, index, key) >= rule.probability:
                continue
            rule.injected += 1
            self.injected[f"{service}:{operation}:{rule.label}"] += 1
            return rule
        return None

    def _deliver(self, request: AWSPreparedRequest) -> None:
        with self._lock:
            if self._http is None:
                self._http = URLLib3Session()
            http = self._http
        http.send(request)

    def _hold_back_items(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            if not self.armed or self._unprocessed is None or self._unprocessed_calls >= self._unprocessed[0]:
                return
            self._unprocessed_calls += 1
            keep = self._unprocessed[1]
        body = json.loads(params["body"])
        held: dict[str, list[Any]] = {}
        for table, requests in body["RequestItems"].items():
            body["RequestItems"][table], rest = requests[:keep], requests[keep:]
            if rest:
                held[table] = rest
            keep = max(0, keep - len(body["RequestItems"][table]))
        body["RequestItems"] = {table: requests for table, requests in body["RequestItems"].items() if requests}
        if not held or not body["RequestItems"]:
            return  # nothing to hold back, or nothing left to send: DynamoDB would throttle instead
        params["body"] = json.dumps(body).encode()
        context["faults_unprocessed"] = held
        with self._lock:
            self.injected["dynamodb:BatchWriteItem:unprocessed-items"] += sum(map(len, held.values()))

    def _report_unprocessed(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        held = context.pop("faults_unprocessed", None)
        if held and "Error" not in parsed:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            for table, requests in held.items():
                unprocessed.setdefault(table, []).extend(requests)


def _request_key(event_name: str, request: AWSPreparedRequest) -> str:
    # The host is left out (a local endpoint's port changes from run to run); the signing region stands in for it.
    url = urlsplit(request.url)
    body = request.body if isinstance(request.body, bytes | str) else b""
    data = body.encode() if isinstance(body, str) else body
    head = f"{event_name}\n{request_region(request)}\n{url.path}?{url.query}\n".encode()
    return hashlib.sha256(head + data).hexdigest()


def _chance(seed: int, rule_index: int, key: str) -> float:
    digest = hashlib.sha256(f"{seed}:{rule_index}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def request_region(request: AWSPreparedRequest) -> str | None:
    """The region a SigV4-signed request is signed for."""
    authorization = request.headers.get("Authorization", "")
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    match = _CREDENTIAL_SCOPE.search(authorization)
    return match.group(1) if match else None


@cache
def _service_models() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_id(service: str) -> str:
    """The name botocore's events use for a service (``cloudwatch``, ``dynamodb``...)."""
    return str(_service_models().get_service_model(service).service_id.hyphenize())


@cache
def protocol_of(service: str) -> str:
    """The wire protocol the clients of this botocore version speak to ``service``."""
    return str(_service_models().get_service_model(service).resolved_protocol)


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def error_response(protocol: str, code: str, status: int, message: str) -> AWSResponse:
    """An error response as the service would send it in ``protocol``."""
    fault = "Receiver" if status >= 500 else "Sender"
    headers = {"x-amzn-RequestId": "injected-fault"}
    if protocol in ("json", "rest-json"):
        headers |= {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "smithy-rpc-v2-cbor":
        headers |= {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
        # Services that moved from the query protocol name their old error code here.
        headers["x-amzn-query-error"] = f"{code};{fault}"
        encoded = bytearray()
        CBORSerializer()._serialize_data_item(encoded, {"__type": code, "message": message}, _CBOR_ERROR)
        body = bytes(encoded)
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>injected-fault</RequestID></Response>"
        ).encode()
    elif protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    else:
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>injected-fault</RequestId></ErrorResponse>"
        ).encode()
    return AWSResponse("https://injected-fault.invalid/", status, headers, _Body(body))


@contextmanager
def instant_backoff() -> Iterator[list[float]]:
    """Make retries wait no time, and yield the delays botocore's backoff asked for.

    The standard and adaptive retry modes share this jittered exponential backoff, so the
    recorded delays show that it was used, while the tests stay fast.
    """
    delays: list[float] = []
    original = standard.ExponentialBackoff.delay_amount

    def record(self: standard.ExponentialBackoff, context: Any) -> float:
        delays.append(original(self, context))
        return 0.0

    standard.ExponentialBackoff.delay_amount = record
    try:
        yield delays
    finally:
        standard.ExponentialBackoff.delay_amount = original
