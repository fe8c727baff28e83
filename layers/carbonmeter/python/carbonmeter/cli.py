"""``python -m carbonmeter``: manage connections, estimate an account in-process, read reports."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, overload

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import ValidationError

from carbonmeter import queries, report
from carbonmeter.aws import ApiCallCounter, ClientFactory, RoleAssumptionError, assume_role
from carbonmeter.collection import RegionUsage, collect
from carbonmeter.connections import (
    ConnectionExistsError,
    ExternalIdError,
    RegistrationError,
    RegistrationRequest,
    RegistrationResult,
    SharedRoleError,
    disable_connection,
    generate_external_id,
    list_connections,
    register_connection,
)
from carbonmeter.emissions.providers import PROVIDER_NAMES, provider_for
from carbonmeter.models import Connection, HourStatus, Service, first_error_message, hour_key, hours_between
from carbonmeter.scheduling import CLOUDWATCH_HOURLY_RETENTION
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES
from carbonmeter.settings import ConfigurationError, Settings
from carbonmeter.store import ConnectionStore, UnknownConnectionError
from carbonmeter.windows import MAX_ESTIMATE_HOURS, WindowError, check_estimate_window

EXIT_USAGE = 2
EXIT_FAILURE = 1
# Where the ExternalId may come from instead of an argument, which shows in ps and in shell history.
EXTERNAL_ID_ENV = "CARBONMETER_EXTERNAL_ID"
# `--external-id -` reads it from stdin instead.
STDIN = "-"
# The library's refusals name no CLI flag (an HTTP API shares them): the flag that answers each, added here.
_REGISTRATION_HINTS: dict[type[RegistrationError], str] = {
    ConnectionExistsError: " (--replace to replace it)",
    SharedRoleError: " (--allow-shared-role to register it anyway)",
    ExternalIdError: " (--generate-external-id makes one)",
}


class CliError(Exception):
    """A problem to report on one line, with a non-zero exit."""


class CollectionIncompleteError(Exception):
    """Some scopes could not be collected; the figures printed leave them out."""


def _csv(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _hour(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-23T10:00:00Z)") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no timezone; end it with Z")
    parsed = parsed.astimezone(UTC)
    if parsed != parsed.replace(minute=0, second=0, microsecond=0):
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole hour")
    return parsed


def _services(value: str) -> list[Service]:
    try:
        return [Service(item) for item in _csv(value)]
    except ValueError:
        known = ", ".join(s.value for s in Service)
        raise argparse.ArgumentTypeError(f"unknown service in {value!r}; known: {known}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m carbonmeter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    about_estimate = (
        f"collect and calculate a window of at most {MAX_ESTIMATE_HOURS} hours (one week), within the last "
        f"{CLOUDWATCH_HOURLY_RETENTION.days} days (what CloudWatch keeps hourly), in-process, writing nothing"
    )
    estimate = commands.add_parser("estimate", help=about_estimate, description=about_estimate)
    estimate.add_argument("--role-arn", required=True)
    estimate.add_argument(
        "--external-id",
        metavar="VALUE|-",
        help=f"the role's ExternalId, if it demands one; '-' reads one line from stdin, else {EXTERNAL_ID_ENV} "
        "(a value given here shows in ps and shell history)",
    )
    estimate.add_argument("--regions", required=True, type=_csv)
    estimate.add_argument("--services", type=_services, default=list(Service))
    estimate.add_argument(
        "--start",
        required=True,
        type=_hour,
        help=f"first hour, e.g. 2026-11-23T00:00:00Z; at most {CLOUDWATCH_HOURLY_RETENTION.days} days ago",
    )
    estimate.add_argument(
        "--end", required=True, type=_hour, help=f"end of the window (exclusive); at most {MAX_ESTIMATE_HOURS} hours on"
    )
    estimate.add_argument("--format", choices=["table", "json"], default="table")
    estimate.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="where the coefficients come from (default: CARBONMETER_EMISSIONS_PROVIDER, else builtin)",
    )
    estimate.set_defaults(run=run_estimate)

    connections = commands.add_parser("connections", help="the registry of connected accounts")
    actions = connections.add_subparsers(dest="action", required=True)
    about_add = (
        "register a connection (or, with --replace, register an existing id again). The ExternalId comes from "
        f"exactly one of: --external-id -, {EXTERNAL_ID_ENV}, --generate-external-id, --external-id VALUE."
    )
    add = actions.add_parser("add", help="register a connection", description=about_add)
    add.add_argument("--connection-id", required=True)
    add.add_argument("--role-arn", required=True)
    add.add_argument(
        "--external-id",
        metavar="VALUE|-",
        help="the connection's ExternalId; '-' reads one line from stdin (a value given here shows in ps and "
        f"shell history: prefer '-' or {EXTERNAL_ID_ENV})",
    )
    add.add_argument(
        "--generate-external-id",
        action="store_true",
        help="generate a random ExternalId, store it and print it once, for the customer's stack",
    )
    add.add_argument(
        "--replace",
        action="store_true",
        help="replace the connection registered under this id (re-enables a disabled one; keeps its first hour)",
    )
    add.add_argument(
        "--allow-shared-role",
        action="store_true",
        help="register even though another connection has the same role ARN (then warns)",
    )
    add.add_argument("--regions", required=True, type=_csv)
    add.add_argument("--services", type=_services, default=list(Service))
    add.add_argument(
        "--collect-from",
        type=_hour,
        help="first hour the hourly run collects (default: the current hour; it catches up at most its look-back)",
    )
    add.set_defaults(run=run_connections_add)
    listing = actions.add_parser("list", help="list connections and their last success or error")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(run=run_connections_list)
    disable = actions.add_parser("disable", help="stop collecting a connection")
    disable.add_argument("connection_id")
    disable.set_defaults(run=run_connections_disable)

    status = commands.add_parser("status", help="per hour: what a connection's collection got and what it misses")
    _stored_window_arguments(status, run_status)
    show = commands.add_parser("report", help="stored emissions of a connection per region and service")
    _stored_window_arguments(show, run_report)
    return parser


def _stored_window_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    """The arguments of the commands that read one connection's stored hours."""
    parser.add_argument("--connection-id", required=True)
    parser.add_argument("--start", required=True, type=_hour)
    parser.add_argument("--end", required=True, type=_hour)
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(run=run)


def known_regions() -> set[str]:
    session = boto3.Session()
    return {
        region
        for partition in ("aws", "aws-cn", "aws-us-gov")
        for region in session.get_available_regions("ec2", partition_name=partition)
    }


def check_regions(regions: Sequence[str]) -> None:
    unknown = sorted(set(regions) - known_regions())
    if unknown:
        raise CliError(f"unknown region(s): {', '.join(unknown)}")


def run_estimate(args: argparse.Namespace, settings: Settings) -> int:
    check_regions(args.regions)
    check_estimate_window(args.start, args.end, datetime.now(UTC))
    external_id = _external_id(args, required=False)
    connection = _connection(args, external_id)
    hours = hours_between(args.start, args.end)
    if args.provider:
        settings = settings.model_copy(update={"emissions_provider": args.provider})
    counter = ApiCallCounter()
    base = ClientFactory(settings=settings, counter=counter)
    # Built before anything is collected, so a provider missing its settings fails first;
    # with CarbonMeter's own credentials, since a remote provider's key is in our account.
    provider = provider_for(settings, base)
    customer = assume_role(
        base,
        args.role_arn,
        external_id,
        settings.role_session_name,
        session_actions=READ_ACTIONS,
        session_resources=READ_RESOURCES,
    )
    _progress(f"collecting {len(connection.regions)} region(s) x {len(hours)} hour(s) of {connection.account_id}")
    result = collect(customer, connection, hours, workers=settings.region_workers, progress=_region_done)
    records = provider.estimate(result.records)
    if args.format == "json":
        document = report.estimate_document(records, counter)
        print(json.dumps({**document, "failed": result.failed, "skipped": result.skipped}, indent=2))
    else:
        print(_estimate_tables(records, counter))
    for scope, reason in sorted(result.skipped.items()):
        _progress(f"warning: {scope} skipped: {reason}")
    if result.failed:
        scopes = ", ".join(f"{scope} ({error})" for scope, error in sorted(result.failed.items()))
        raise CollectionIncompleteError(f"incomplete: {len(result.failed)} region/service scope(s) failed: {scopes}")
    return 0


def _connection(args: argparse.Namespace, external_id: str | None) -> Connection:
    try:
        return Connection(
            connection_id="cli",
            role_arn=args.role_arn,
            external_id=external_id or "none",
            regions=tuple(args.regions),
            services=tuple(args.services),
        )
    except ValidationError as exc:
        raise CliError(first_error_message(exc)) from None


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _region_done(done: RegionUsage) -> None:
    _progress(f"  {done.region}: {done.resources} resources, {len(done.records)} usage records")


def _estimate_tables(records: list[Any], counter: ApiCallCounter) -> str:
    cost = report.cloudwatch_cost(counter.metrics_requested)
    return "\n\n".join(
        [
            report.resource_table(report.by_resource(records)),
            report.api_calls_table(counter),
            f"CloudWatch metrics requested: {counter.metrics_requested} (USD {cost:.4f} on AWS)",
        ]
    )


def run_connections_add(args: argparse.Namespace, settings: Settings) -> int:
    check_regions(args.regions)
    external_id = _external_id(args, required=True)
    request = RegistrationRequest(
        connection_id=args.connection_id,
        role_arn=args.role_arn,
        external_id=external_id,
        regions=tuple(args.regions),
        services=tuple(args.services),
        collect_from=args.collect_from,
        replace=args.replace,
        allow_shared_role=args.allow_shared_role,
    )
    try:
        result = register_connection(_connections(settings), request, datetime.now(UTC))
    except RegistrationError as exc:
        raise CliError(f"{exc}{_REGISTRATION_HINTS.get(type(exc), '')}") from None
    if result.shares_role_with:
        _progress(
            f"warning: role {result.connection.role_arn} is also the role of connection(s) "
            f"{', '.join(result.shares_role_with)}: they collect the same account"
        )
    print(_registered(result))
    if args.generate_external_id:
        # The one place the secret is printed: the operator has to hand it to the customer.
        print(f"ExternalId: {external_id}")
        _progress("give it to the customer for CarbonMeterCustomerRoleStack's ExternalId parameter; not shown again")
    return 0


@overload
def _external_id(args: argparse.Namespace, *, required: Literal[True]) -> str: ...
@overload
def _external_id(args: argparse.Namespace, *, required: bool) -> str | None: ...
def _external_id(args: argparse.Namespace, *, required: bool) -> str | None:
    """The ExternalId from the one source the operator gave (an empty variable counts as none)."""
    from_env = os.environ.get(EXTERNAL_ID_ENV) or None
    # `estimate` has no --generate-external-id: a new secret is no use to a role that already exists.
    can_generate = hasattr(args, "generate_external_id")
    generate = bool(getattr(args, "generate_external_id", False))
    sources = [
        ("--external-id", args.external_id is not None),
        (EXTERNAL_ID_ENV, from_env is not None),
        *([("--generate-external-id", generate)] if can_generate else []),
    ]
    given = [name for name, present in sources if present]
    if len(given) > 1 or (required and not given):
        raise CliError(_sources_message(required, can_generate, given))
    if generate:
        return generate_external_id()
    if from_env is not None:
        return from_env
    if args.external_id is None:
        return None
    return _external_id_from_stdin() if args.external_id == STDIN else str(args.external_id)


def _sources_message(required: bool, can_generate: bool, given: Sequence[str]) -> str:
    ways = ["--external-id - (stdin)", EXTERNAL_ID_ENV, *(["--generate-external-id"] if can_generate else [])]
    found = f" (got {' and '.join(given)})" if given else ""
    return (
        f"give the ExternalId {'exactly' if required else 'at most'} one way: "
        f"{', '.join(ways)} or --external-id VALUE{found}"
    )


def _external_id_from_stdin() -> str:
    if sys.stdin.isatty():
        # Typed at a terminal: not echoed, so it stays off the screen too.
        return getpass.getpass("ExternalId: ")
    # Only the line end is dropped: a stray space is kept, so the ExternalId rules refuse it instead of guessing.
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CliError("--external-id -: no ExternalId on stdin (expected one line)")
    return value


def _registered(result: RegistrationResult) -> str:
    connection = result.connection
    if result.replaced is None:
        verb = "saved"
    else:
        verb = "replaced (it was disabled; it is enabled again)" if result.re_enabled else "replaced"
    return (
        f"connection {connection.connection_id} {verb}: account {connection.account_id}, "
        f"{len(connection.regions)} region(s)"
    )


def run_connections_list(args: argparse.Namespace, settings: Settings) -> int:
    connections = list_connections(_connections(settings))
    if args.format == "json":
        print(json.dumps(connections, indent=2))
        return 0
    rows = [
        [
            c["connection_id"],
            c["account_id"],
            "yes" if c["enabled"] else "no",
            ",".join(c["regions"]),
            c["last_success_hour"] or "-",
            (c["last_error"] or "-")[:60],
        ]
        for c in connections
    ]
    print(report.table(["connection", "account", "enabled", "regions", "last hour collected", "last error"], rows))
    return 0


def run_connections_disable(args: argparse.Namespace, settings: Settings) -> int:
    disable_connection(_connections(settings), args.connection_id)
    print(f"connection {args.connection_id} disabled")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    found = queries.hour_statuses(clients, settings, args.connection_id, args.start, args.end, datetime.now(UTC))
    if args.format == "json":
        document = {hour_key(h): s.model_dump(mode="json") if s else None for h, s in found.hours}
        print(json.dumps(document, indent=2))
        return 0
    rows = [[hour_key(hour), *_status_cells(status)] for hour, status in found.hours]
    print(report.table(["hour", "state", "attempts", "scopes ok", "missing", "skipped", "emissions"], rows))
    print(f"\n{found.complete} of {len(found.hours)} hour(s) complete")
    return 0


def _status_cells(status: HourStatus | None) -> list[Any]:
    if status is None:
        return ["not collected", 0, 0, "-", "-", "-"]
    missing = "; ".join(f"{scope}: {error}" for scope, error in sorted(status.failed.items())) or "-"
    skipped = ", ".join(sorted(status.skipped)) or "-"
    state = "complete" if status.complete else "incomplete"
    return [state, status.attempts, len(status.succeeded), missing[:100], skipped, _emissions_cell(status)]


def _emissions_cell(status: HourStatus) -> str:
    if status.calculated:
        return "stored"
    if status.calculation_error:
        return f"failed: {status.calculation_error}"[:60]
    return "pending"


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    found = queries.connection_report(clients, settings, args.connection_id, args.start, args.end, datetime.now(UTC))
    if args.format == "json":
        totals = found.totals.items()
        print(json.dumps([{"region": r, "service": s, **t.figures()} for (r, s), t in totals], indent=2))
    else:
        print(
            f"{args.connection_id}: {found.hours_with_emissions} hour(s) with emissions between "
            f"{hour_key(args.start)} and {hour_key(args.end)}"
        )
        print(report.region_service_table(found.totals))
    return 0


def _connections(settings: Settings) -> ConnectionStore:
    return ConnectionStore(ClientFactory(settings=settings), settings.connections_table)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args, Settings.from_env()))
    except (CliError, WindowError, RoleAssumptionError, UnknownConnectionError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NoCredentialsError:
        print("error: no AWS credentials found (set AWS_PROFILE or the AWS_* variables)", file=sys.stderr)
        return EXIT_FAILURE
    except (CollectionIncompleteError, ClientError, BotoCoreError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILURE
