"""An AWS emulator (moto's server) running inside this process, for local runs and tests.

While ``embedded_aws()`` is open every boto3 client created in the process talks to the
emulator on 127.0.0.1: the environment carries its endpoint and fake credentials, and
everything that could send a request elsewhere (service-specific endpoints, profiles,
shared config files, instance metadata) is switched off. The previous environment is
restored when the block exits.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.handlers
from moto import backends
from moto.dynamodb.models.table import Table
from moto.s3.models import S3Backend
from moto.server import ThreadedMotoServer

from carbonmeter.settings import Settings
from devtools.aws.account_regions import account_regions
from devtools.aws.apigateway import api_listings_paged
from devtools.aws.dynamodb_speed import dynamodb_answers_fast
from devtools.aws.ecs_running import ecs_services_run_their_desired_count
from devtools.aws.elasticache_serverless import elasticache_serverless
from devtools.aws.redshift_serverless import redshift_serverless
from devtools.aws.sqs_speed import sqs_sends_fast
from devtools.aws.sustainability import sustainability_stand_in
from devtools.aws.table_sizes import table_sizes_as_seeded

DEFAULT_ACCOUNT_ID = "123456789012"
HOST = "127.0.0.1"

# Credentials the emulator accepts; they are not valid anywhere else.
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAEMBEDDEDCARBONMETER",
    "AWS_SECRET_ACCESS_KEY": "embedded-aws-secret",
    "AWS_SESSION_TOKEN": "embedded-aws-session",
}
# Variables that would route a client away from the emulator or to other credentials.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    # A local CarbonMeter's endpoint, exported for the CLI, would send this process's clients elsewhere.
    Settings.env_name("endpoint_url"),
)


class EmbeddedAwsError(RuntimeError):
    """The embedded AWS did not start or does not answer."""


@contextmanager
def embedded_aws(region: str = "us-east-1", port: int = 0, *, fast_dynamodb: bool = True) -> Iterator[str]:
    """Run an empty emulated AWS account and point boto3 at it; yields the endpoint URL.

    ``port`` 0 takes any free port; another must be free, or ``EmbeddedAwsError`` says so. ``fast_dynamodb``
    False answers DynamoDB with moto's own (slow) serialisation, for a benchmark's "before".
    """
    if port:
        _check_free(port)
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    werkzeug_log = logging.getLogger("werkzeug")
    saved_level = werkzeug_log.level
    # The emulator logs every request at INFO; a seeded account makes thousands.
    werkzeug_log.setLevel(logging.WARNING)
    server.start()
    host, port = server.get_host_and_port()
    try:
        # Moto keeps its state per process: start from an empty account, and prove the port answers.
        _reset(host, port)
        endpoint = f"http://{host}:{port}"
        with (
            _environment(_aws_environment(endpoint, region)),
            _moto_modules_listed_once(),
            _only_local_requests(host, port),
            _storage_metrics_as_written(),
            _queries_read_one_partition(),
            dynamodb_answers_fast() if fast_dynamodb else nullcontext(),
            sqs_sends_fast(),
            account_regions(),
            api_listings_paged(),
            table_sizes_as_seeded(),
            redshift_serverless(),
            elasticache_serverless(),
            ecs_services_run_their_desired_count(),
            sustainability_stand_in(),
        ):
            yield endpoint
    finally:
        # Leave no account behind for the next embedded AWS or mock in this process.
        with suppress(EmbeddedAwsError):
            _reset(host, port)
        server.stop()
        werkzeug_log.setLevel(saved_level)


@contextmanager
def _moto_modules_listed_once() -> Iterator[None]:
    """List moto's service modules once for the emulator's whole run, not twice a request.

    moto's server asks of each request whether its host names one of moto's modules, listing them from disk to know
    (a directory listing and some 170 ``isdir`` calls, about 2 ms), twice a request and under the lock every request
    waits on: of the scheduler's hourly run at many connections, most of the emulator's time. Its package's folders
    do not change while it runs.
    """
    original = backends.list_of_moto_modules
    modules = tuple(original())
    backends.list_of_moto_modules = lambda: modules
    try:
        yield
    finally:
        backends.list_of_moto_modules = original


def _check_free(port: int) -> None:
    # moto's server binds in its own thread and, when the port is taken, never reports ready: ask first.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise EmbeddedAwsError(f"port {port} on {HOST} is in use ({exc.strerror}); choose another") from None


def _aws_environment(endpoint: str, region: str) -> dict[str, str | None]:
    values: dict[str, str | None] = dict.fromkeys(_CLEARED)
    values |= {name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")}
    values |= _FAKE_CREDENTIALS
    values |= {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # Shared config could name endpoints or credential processes of a real account.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return values


@contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables, restoring the old values after."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _apply(values)
        yield
    finally:
        _apply(saved)


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def _only_local_requests(host: str, port: int) -> Iterator[None]:
    """Refuse, in every botocore session created meanwhile, any request not bound for the emulator.

    The environment is the first line; this catches what clears it under us (a test fixture
    removing AWS_ENDPOINT_URL, a client given another endpoint).
    """
    guard = ("before-send", _LocalOnly(host, port))
    handlers = botocore.handlers.BUILTIN_HANDLERS
    handlers.append(guard)
    saved_default_session = boto3.DEFAULT_SESSION
    # boto3.client() reuses one lazily made session; make it again so it carries the guard.
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        # Someone may have swapped the list meanwhile (tests patch it too): clean both.
        for current in (handlers, botocore.handlers.BUILTIN_HANDLERS):
            if guard in current:
                current.remove(guard)
        boto3.DEFAULT_SESSION = saved_default_session


class _LocalOnly:
    def __init__(self, host: str, port: int) -> None:
        self.netloc = f"{host}:{port}"

    def __call__(self, request: Any, **_: Any) -> None:
        if urlsplit(request.url).netloc != self.netloc:
            raise EmbeddedAwsError(f"refused to send a request outside the embedded AWS: {request.url}")


@contextmanager
def _storage_metrics_as_written() -> Iterator[None]:
    """Let S3 storage metrics come only from PutMetricData while the emulator runs.

    Moto adds, for every bucket, a BucketSizeBytes datapoint at today's midnight sized from the
    objects it holds. Demo buckets hold their bytes only as seeded metrics, so that extra zero
    would be averaged into today's real-looking value.
    """
    original = S3Backend.__dict__["get_cloudwatch_metrics"]
    S3Backend.get_cloudwatch_metrics = staticmethod(_no_metrics)  # type: ignore[method-assign]
    try:
        yield
    finally:
        S3Backend.get_cloudwatch_metrics = original  # type: ignore[method-assign]


def _no_metrics(account_id: str, region: str) -> list[Any]:
    return []


def seed_ids(endpoint: str, seed: int) -> None:
    """Seed the embedded AWS's id generator, so that two runs seeded alike get the same resource ids."""
    address = urlsplit(endpoint)
    _moto_api(address.hostname or HOST, address.port or 80, f"seed?a={seed}", "a seed")


def _reset(host: str, port: int) -> None:
    _moto_api(host, port, "reset", "a reset")


def _moto_api(host: str, port: int, action: str, what: str) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("POST", f"/moto-api/{action}")
        response = connection.getresponse()
        response.read()
    except OSError as exc:
        raise EmbeddedAwsError(f"the embedded AWS on {host}:{port} does not answer: {exc}") from exc
    finally:
        connection.close()
    if response.status != 200:
        raise EmbeddedAwsError(f"the embedded AWS on {host}:{port} refused {what}: HTTP {response.status}")


_querying = threading.local()


@contextmanager
def _queries_read_one_partition() -> Iterator[None]:
    """Let a DynamoDB Query on a table's key read only its partition, as DynamoDB does.

    Moto sorts and filters every item of the table for each Query, so a long local run (the soak
    stores thousands of records an hour) slows down hour after hour. The partition's items, in
    moto's own order, are exactly what its filter would have kept; queries on an index are untouched.
    """
    original_query, original_all_items = Table.query, Table.all_items

    def query(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(table, hash_key, *args, **kwargs)
        _querying.partition = (table, hash_key)
        try:
            return original_query(table, hash_key, *args, **kwargs)
        finally:
            _querying.partition = None

    def all_items(table: Table) -> list[Any]:
        partition = getattr(_querying, "partition", None)
        if partition is None or partition[0] is not table or not table.range_key_attr:
            return original_all_items(table)
        items = table.items.get(partition[1], {})
        return sorted(items.values(), key=lambda item: item.range_key)

    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all_items  # type: ignore[method-assign]
