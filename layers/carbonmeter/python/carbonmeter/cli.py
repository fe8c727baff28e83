"""The ``carbonmeter`` command (also ``python -m carbonmeter``): estimate an account in-process, manage
connections, read reports. It presents the library's use cases; each refusal is one ``error:`` line."""

from __future__ import annotations

import argparse
import contextlib
import functools
import getpass
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NoReturn, overload

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import ValidationError

from carbonmeter import queries, report
from carbonmeter.aws import ApiCallCounter, ClientFactory, RoleAssumptionError, allow_policy, assume_role
from carbonmeter.collection import CollectionTarget, RegionUsage, collect
from carbonmeter.collection_windows import WINDOW_HOURS
from carbonmeter.collection_windows import allowed as allowed_windows
from carbonmeter.connections import (
    AccessCheck,
    AccessChecker,
    AccessCheckError,
    CollectorCheckError,
    ConnectionEnabledError,
    ConnectionExistsError,
    ExternalIdError,
    RegistrationError,
    RegistrationRequest,
    RegistrationResult,
    SharedRoleError,
    check_access,
    check_access_through_collector,
    check_connection,
    disable_connection,
    enable_connection,
    external_id_problem,
    generate_external_id,
    list_connections,
    register_connection,
    remove_connection,
    set_connection_window,
    sts_external_id_problem,
)
from carbonmeter.emissions.providers import PROVIDER_NAMES, provider_for
from carbonmeter.insights import costs as insight_costs
from carbonmeter.insights import recommendations
from carbonmeter.insights import reconciliation as insight_reconciliation
from carbonmeter.insights.anomalies.alerts import anomalies_table
from carbonmeter.insights.anomalies.watch import connection_anomalies
from carbonmeter.insights.export import ExportFormat, export_rows
from carbonmeter.insights.export import lines as export_lines
from carbonmeter.models import (
    ALL_REGIONS,
    Connection,
    HourStatus,
    Service,
    first_error_message,
    hour_key,
    hour_state,
    hours_between,
)
from carbonmeter.monitoring import BILLED_TO
from carbonmeter.periods import FootprintWindowError, Granularity, GroupBy
from carbonmeter.regions import UnknownRegionError, parse_regions
from carbonmeter.scheduling import CLOUDWATCH_HOURLY_RETENTION
from carbonmeter.series import FootprintRow
from carbonmeter.services import READ_ACTIONS, READ_MEMBERS, READ_RESOURCES
from carbonmeter.settings import ConfigurationError, Settings
from carbonmeter.store import ConnectionStore, MissingTableError, UnknownConnectionError
from carbonmeter.tops import TOP_KEPT
from carbonmeter.windows import MAX_ESTIMATE_HOURS, WindowError, check_estimate_window

PROG = "carbonmeter"
EXIT_USAGE = 2
EXIT_FAILURE = 1
# Where the ExternalId may come from instead of an argument, which shows in ps and in shell history.
EXTERNAL_ID_ENV = "CARBONMETER_EXTERNAL_ID"
# Points every AWS call at a local CarbonMeter (`make local`): Settings.endpoint_url.
ENDPOINT_ENV = Settings.env_name("endpoint_url")
# The deployed collector, which checks connections' roles for the CLI: Settings.collector_function_name.
COLLECTOR_FUNCTION_ENV = Settings.env_name("collector_function_name")
# `--external-id -` reads it from stdin instead.
STDIN = "-"
# The library's refusals name no CLI flag (an HTTP API shares them): the flag that answers each, added here.
_REGISTRATION_HINTS: dict[type[RegistrationError], str] = {
    ConnectionExistsError: " (--replace to replace it)",
    SharedRoleError: " (--allow-shared-role to register it anyway)",
    ExternalIdError: " (--generate-external-id makes one)",
    AccessCheckError: " (--no-check to register it anyway)",
    ConnectionEnabledError: f" ({PROG} connections disable ID)",
}


class CliError(Exception):
    """A problem to report on one line, with a non-zero exit."""


class CollectionIncompleteError(Exception):
    """Some scopes could not be collected; the figures printed leave them out."""


class CliParser(argparse.ArgumentParser):
    """argparse, with its refusals on one ``error:`` line as every other refusal of the CLI (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def _csv(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def region_list(value: str) -> list[str]:
    try:
        return list(parse_regions(_csv(value)))
    except UnknownRegionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _hour(value: str) -> datetime:
    example = "e.g. 2026-11-23T10:00:00Z"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time ({example})") from None
    if "T" not in value.upper() and " " not in value:
        raise argparse.ArgumentTypeError(f"{value!r} is a date; give an hour with its timezone ({example})")
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no timezone; end it with Z ({example})")
    parsed = parsed.astimezone(UTC)
    if parsed != parsed.replace(minute=0, second=0, microsecond=0):
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole hour ({example})")
    return parsed


def hour_count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours (1 or more)")
    return int(value)


def _services(value: str) -> list[Service]:
    try:
        return [Service(item) for item in _csv(value)]
    except ValueError:
        known = ", ".join(s.value for s in Service)
        raise argparse.ArgumentTypeError(f"unknown service in {value!r}; known: {known}") from None


DESCRIPTION = (
    "CarbonMeter: estimate an AWS account's energy and carbon in-process (estimate), manage the connected "
    "accounts of a deployed CarbonMeter (connections) and read what it stored (status, report, export). AWS calls "
    f"use the usual boto3 credentials; {ENDPOINT_ENV} points them at a local CarbonMeter (make local) instead."
)
REGIONS_HELP = (
    f"comma-separated region names, e.g. us-east-1,eu-west-1, or {ALL_REGIONS!r}: every region the account has "
    "enabled, looked up at each collection"
)
SERVICES_HELP = f"comma-separated services to collect (default: all of {', '.join(s.value for s in Service)})"
FORMAT_HELP = "table for people (default) or json for programs"


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog=PROG, description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _estimate_command(commands)
    _connections_command(commands)
    _anomalies_command(commands)
    status = commands.add_parser(
        "status",
        help="per hour: what a connection's collection got and what it misses",
        description="Per hour of the window: what the connection's collection stored, what failed and why.",
    )
    _stored_window_arguments(status, run_status)
    show = commands.add_parser(
        "report",
        help="stored emissions of a connection per region and service",
        description="A connection's stored emissions over the window, per region and service.",
    )
    _stored_window_arguments(show, run_report)
    show.add_argument(
        "--granularity",
        choices=[g.value for g in Granularity],
        help="a series by hour, day or month (UTC; days and months from their stored roll-ups, so a year by month "
        "is one query) instead of the window's totals per region and service; day and month windows start and end "
        "on their periods",
    )
    show.add_argument(
        "--group-by",
        choices=[g.value for g in GroupBy],
        default=GroupBy.SERVICE.value,
        help="with --granularity: the series' groups (default service; resource reads one request per hour of the "
        "window, docs/insights.md)",
    )
    show.add_argument(
        "--breakdown",
        choices=[g.value for g in GroupBy if g is not GroupBy.RESOURCE],
        help="instead: each group's figures over the whole window, largest first, read from the largest stored "
        "roll-ups that fit (months, then days, then hours: a year is a few reads)",
    )
    show.add_argument(
        "--top",
        type=_top_count,
        metavar="N",
        help=f"instead: the N (1 to {TOP_KEPT}) resources that emitted the most over the window, from the tops each "
        "day and month keeps (a few queries whatever the window), with how certain their ranks are",
    )
    _aws_figures_commands(commands)
    _export_command(commands)
    _recommendations_command(commands)
    return parser


def _export_command(commands: Any) -> None:
    about = (
        "Write a connection's stored footprint over the window, one row per period and group, with each figure's "
        "low and high bounds, the methodology version and the flags, as CSV or JSON Lines. Rows are written as they "
        "are read, so a year of hourly rows is never held in memory; progress goes to stderr."
    )
    export = commands.add_parser(
        "export", help="a connection's stored footprint as CSV or JSON Lines", description=about
    )
    export.add_argument("--connection-id", required=True, help="the id it was registered with")
    export.add_argument("--start", type=_hour, help="first hour, e.g. 2026-11-01T00:00:00Z (with --end)")
    export.add_argument("--end", type=_hour, help="end of the window (exclusive), e.g. 2026-12-01T00:00:00Z")
    export.add_argument(
        "--last", type=hour_count, metavar="HOURS", help="instead of --start and --end: the latest complete HOURS"
    )
    export.add_argument(
        "--format",
        choices=[f.value for f in ExportFormat],
        default=ExportFormat.CSV.value,
        help="csv (default: a header, then a line per row) or json (JSON Lines: an object per line)",
    )
    export.add_argument(
        "--granularity",
        choices=[g.value for g in Granularity],
        default=Granularity.DAY.value,
        help="one row per hour, day or month (UTC) and group (default day); day and month windows start and end on "
        "their periods",
    )
    export.add_argument(
        "--by",
        choices=[g.value for g in GroupBy],
        default=GroupBy.SERVICE.value,
        help="the rows' groups (default service; resource reads one request per hour of the window)",
    )
    export.add_argument(
        "--output", metavar="FILE", help="write to FILE (replaced only once complete) instead of stdout"
    )
    export.set_defaults(run=run_export)


def _estimate_command(commands: Any) -> None:
    about = (
        f"Collect and calculate a window of at most {MAX_ESTIMATE_HOURS} hours (one week), within the last "
        f"{CLOUDWATCH_HOURLY_RETENTION.days} days (what CloudWatch keeps hourly), in-process, writing nothing. "
        "It reads the account through a role (--role-arn), or with your own credentials (--current-credentials)."
    )
    estimate = commands.add_parser(
        "estimate", help="estimate an account in-process, writing nothing", description=about
    )
    whose = estimate.add_mutually_exclusive_group(required=True)
    whose.add_argument(
        "--role-arn",
        help="the read-only role to assume, as the collector does (CarbonMeterCustomerRoleStack's, or one of your own)",
    )
    whose.add_argument(
        "--current-credentials",
        action="store_true",
        help="assume no role: read the account of your own credentials (they need the read actions of "
        f"`{PROG} read-policy`)",
    )
    estimate.add_argument(
        "--external-id",
        metavar="VALUE|-",
        help=f"the role's ExternalId, if it demands one; '-' reads one line from stdin, else {EXTERNAL_ID_ENV} "
        "(a value given here shows in ps and shell history)",
    )
    estimate.add_argument("--regions", required=True, type=region_list, help=REGIONS_HELP)
    estimate.add_argument("--services", type=_services, default=list(Service), help=SERVICES_HELP)
    estimate.add_argument(
        "--start",
        required=True,
        type=_hour,
        help=f"first hour, e.g. 2026-11-23T00:00:00Z; at most {CLOUDWATCH_HOURLY_RETENTION.days} days ago",
    )
    estimate.add_argument(
        "--end", required=True, type=_hour, help=f"end of the window (exclusive); at most {MAX_ESTIMATE_HOURS} hours on"
    )
    estimate.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    estimate.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="where the coefficients come from (default: CARBONMETER_EMISSIONS_PROVIDER, else builtin)",
    )
    estimate.set_defaults(run=run_estimate)
    policy = commands.add_parser(
        "read-policy",
        help="print the IAM policy of the read actions CarbonMeter needs in an account",
        description="The IAM policy (JSON) allowing exactly the read actions the collector makes: the policy of "
        "CarbonMeterCustomerRoleStack's role, and what --current-credentials needs.",
    )
    policy.set_defaults(run=run_read_policy)


def _connections_command(commands: Any) -> None:
    connections = commands.add_parser(
        "connections",
        help="the registry of connected accounts",
        description="The accounts a deployed CarbonMeter collects every hour.",
    )
    actions = connections.add_subparsers(dest="action", required=True, metavar="ACTION")
    about_add = (
        "Register a connection (or, with --replace, register an existing id again). The ExternalId comes from "
        f"exactly one of: --external-id -, {EXTERNAL_ID_ENV}, --generate-external-id, --external-id VALUE. "
        "Unless --no-check (or --generate-external-id: the role cannot exist yet), the role is first assumed with "
        "it and each region read once, as 'connections test' does."
    )
    add = actions.add_parser("add", help="register a connection", description=about_add)
    add.add_argument("--connection-id", required=True, help="a name of yours for it: letters, digits, '.', '_', '-'")
    add.add_argument("--role-arn", required=True, help="the customer's CarbonMeterCustomerRoleStack role")
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
    add.add_argument(
        "--no-check",
        action="store_true",
        help="store it without assuming the role and reading each region first",
    )
    add.add_argument("--regions", required=True, type=region_list, help=REGIONS_HELP)
    add.add_argument("--services", type=_services, default=list(Service), help=SERVICES_HELP)
    add.add_argument(
        "--collect-from",
        type=_hour,
        help="first hour the hourly run collects (default: the current hour; it catches up at most its look-back)",
    )
    add.add_argument("--tenant", help=TENANT_HELP)
    add.add_argument("--window-hours", type=window_hours_arg, help=WINDOW_HELP)
    add.set_defaults(run=run_connections_add)
    window = actions.add_parser(
        "window",
        help="change a connection's collection window",
        description="Collect a connection every HOURS hours from the next hourly run on, or at the deployment's "
        f"window ('default', {Settings.env_name('collection_window_hours')}). {WINDOW_HELP}.",
    )
    window.add_argument("connection_id", metavar="CONNECTION_ID", help="the id it was registered with")
    window.add_argument("window_hours", metavar="HOURS", type=window_or_default, help=f"{allowed_windows()} or default")
    window.set_defaults(run=run_connections_window)
    listing = actions.add_parser(
        "list",
        help="list connections and their last success or error",
        description="Every connection, its tenant, its regions, its last collected hour and its last error (never an "
        "ExternalId). A connection without a tenant is shown to no HTTP API user.",
    )
    listing.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    listing.set_defaults(run=run_connections_list)
    for name, about, run in (
        ("test", CHECK_HELP, run_connections_test),
        ("enable", "collect a disabled connection again (the hourly run catches up within its look-back)", None),
        ("disable", "stop collecting a connection (its stored records stay)", None),
        ("remove", REMOVE_HELP, run_connections_remove),
    ):
        action = actions.add_parser(name, help=about.split(";")[0].split(":")[0], description=about)
        action.add_argument("connection_id", metavar="CONNECTION_ID", help="the id it was registered with")
        if run is None:
            action.set_defaults(run=run_connections_set_enabled, enabled=name == "enable")
        else:
            action.set_defaults(run=run)


WINDOW_HELP = (
    f"hours per collection: {allowed_windows()}, aligned in UTC (default: the deployment's). One GetMetricData query "
    "per metric reads a whole window, so 24 costs 1/24 of hourly; an hour is stored once its window has settled"
)


def window_hours_arg(value: str) -> int:
    if not value.isdigit() or int(value) not in WINDOW_HOURS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a collection window: give {allowed_windows()} hours")
    return int(value)


def window_or_default(value: str) -> int | None:
    return None if value == "default" else window_hours_arg(value)


def run_connections_window(args: argparse.Namespace, settings: Settings) -> int:
    set_connection_window(_connections(settings), args.connection_id, args.window_hours)
    window = args.window_hours or settings.collection_window_hours
    whose = "its own" if args.window_hours else "the deployment's"
    print(f"connection {args.connection_id} is collected every {window} hour(s) ({whose} window) from the next run")
    return 0


TENANT_HELP = (
    "the tenant it belongs to (letters, digits, '.', '_', '-'): the HTTP API shows it to the users of the Cognito "
    "group of that name; without one (or replaced without one), no API user sees it, only this CLI"
)
CHECK_HELP = (
    "assume the connection's role with its ExternalId, as the collector does, and read once in each of its "
    f"regions; says which work (nothing is written). The deployed collector checks when {COLLECTOR_FUNCTION_ENV} "
    "names it (customers' roles trust its role alone); otherwise this process does, with your credentials"
)
REMOVE_HELP = (
    "delete a disabled connection from the registry; its stored usage, statuses and emissions stay in their "
    "tables, unread (status and report refuse the id), and show again if the id is registered again"
)


def _stored_window_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    """The arguments of the commands that read one connection's stored hours."""
    parser.add_argument("--connection-id", required=True, help="the id it was registered with")
    parser.add_argument("--start", type=_hour, help="first hour, e.g. 2026-11-23T00:00:00Z (with --end)")
    parser.add_argument("--end", type=_hour, help="end of the window (exclusive), e.g. 2026-11-24T00:00:00Z")
    parser.add_argument(
        "--last", type=hour_count, metavar="HOURS", help="instead of --start and --end: the latest complete HOURS"
    )
    parser.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    parser.set_defaults(run=run)


def window_of(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    """The window asked for: ``--start`` and ``--end``, or ``--last HOURS`` ending with the latest complete hour."""
    if args.last is not None:
        if args.start is not None or args.end is not None:
            raise CliError("give --last, or --start and --end, not both")
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return end - timedelta(hours=args.last), end
    if args.start is None or args.end is None:
        raise CliError("give --start and --end (e.g. 2026-11-23T00:00:00Z), or --last HOURS")
    return args.start, args.end


def run_estimate(args: argparse.Namespace, settings: Settings) -> int:
    check_estimate_window(args.start, args.end, datetime.now(UTC))
    external_id = _estimate_external_id(args)
    # Checked before any AWS call, as every argument is.
    role = None if args.current_credentials else _connection(args, external_id)
    if role is not None:
        _warn_about_external_id(external_id)
    hours = hours_between(args.start, args.end)
    if args.provider:
        settings = settings.model_copy(update={"emissions_provider": args.provider})
    counter = ApiCallCounter()
    base = ClientFactory(settings=settings, counter=counter)
    # Built before anything is collected, so a provider missing its settings fails first;
    # with CarbonMeter's own credentials, since a remote provider's key is in our account.
    provider = provider_for(settings, base)
    target: CollectionTarget
    if role is None:
        customer, target, read_with = _own_account(base, args)
    else:
        customer = assume_role(
            base,
            role.role_arn,
            external_id,
            settings.role_session_name,
            session_actions=READ_ACTIONS,
            session_resources=READ_RESOURCES,
            read_members=READ_MEMBERS,
        )
        target, read_with = role, f"role {role.role_arn}"
    _progress(f"collecting {_regions_of(target)} x {len(hours)} hour(s) of {target.account_id}")
    result = collect(customer, target, hours, workers=settings.region_workers, progress=_region_done)
    records = provider.estimate(result.records)
    if args.format == "json":
        document = report.estimate_document(records, counter, args.start, args.end)
        extra = {"read_with": read_with, "failed": result.failed, "skipped": result.skipped}
        print(json.dumps({**document, **extra}, indent=2))
    else:
        print(_estimate_tables(records, counter, target, args.start, args.end))
    for scope, reason in sorted(result.skipped.items()):
        _progress(f"warning: {scope} skipped: {reason}")
    if result.failed:
        scopes = ", ".join(f"{scope} ({error})" for scope, error in sorted(result.failed.items()))
        raise CollectionIncompleteError(f"incomplete: {len(result.failed)} region/service scope(s) failed: {scopes}")
    return 0


@dataclass(frozen=True)
class _OwnAccount:
    """The account of the caller's own credentials, as collection sees a connection."""

    account_id: str
    regions: tuple[str, ...]
    services: tuple[Service, ...]
    connection_id: str = "current-credentials"


def _own_account(base: ClientFactory, args: argparse.Namespace) -> tuple[ClientFactory, _OwnAccount, str]:
    identity = base.client("sts").get_caller_identity()
    # Said on every run: the figures are of this identity's account, read with its own permissions.
    _progress(
        f"using your own credentials ({identity['Arn']}), no role assumed: they need the read actions of "
        f"`{PROG} read-policy`; the collector's session policy does not apply"
    )
    target = _OwnAccount(identity["Account"], tuple(args.regions), tuple(args.services))
    return base, target, f"current credentials {identity['Arn']}"


def _estimate_external_id(args: argparse.Namespace) -> str | None:
    """The role's ExternalId, if given: any STS accepts (the role has it already; connections add is stricter)."""
    external_id = _external_id(args, required=False)
    if external_id is None:
        return None
    if args.current_credentials:
        raise CliError("--current-credentials assumes no role, so it takes no ExternalId")
    problem = sts_external_id_problem(external_id)
    if problem:
        raise CliError(problem)
    return external_id


def _warn_about_external_id(external_id: str | None) -> None:
    # A trial role of one's own may have any ExternalId STS accepts, or none; a connection may not (docs/security.md).
    if external_id is None:
        _progress(
            "warning: no ExternalId given: the role is assumed without one, which a role made by "
            f"CarbonMeterCustomerRoleStack refuses ({EXTERNAL_ID_ENV} or --external-id - gives it)"
        )
        return
    weak = external_id_problem(external_id)
    if weak:
        _progress(f"warning: {weak}: fine for estimating a role of your own, refused by `{PROG} connections add`")


def _connection(args: argparse.Namespace, external_id: str | None) -> Connection:
    try:
        return Connection(
            connection_id="cli",
            role_arn=args.role_arn,
            # The model wants an ExternalId; a role that demands none is assumed without one all the same.
            external_id=external_id or "none",
            regions=tuple(args.regions),
            services=tuple(args.services),
        )
    except ValidationError as exc:
        raise CliError(first_error_message(exc)) from None


def run_read_policy(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(allow_policy(READ_ACTIONS, READ_RESOURCES), indent=2))
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _region_done(done: RegionUsage) -> None:
    _progress(f"  {done.region}: {done.resources} resources, {len(done.records)} usage records")


def _estimate_tables(
    records: list[Any], counter: ApiCallCounter, connection: CollectionTarget, start: datetime, end: datetime
) -> str:
    title = f"CarbonMeter estimate: account {connection.account_id}, {', '.join(connection.regions)}"
    return "\n\n".join(
        [
            report.text(report.from_records(records, start, end), title, per_resource=True),
            report.operations_text(counter, "For the operator: the AWS API calls this estimate made"),
        ]
    )


def run_connections_add(args: argparse.Namespace, settings: Settings) -> int:
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
        tenant=args.tenant,
        window_hours=args.window_hours,
    )
    # A generated ExternalId is new: the customer's role cannot have it yet, so there is nothing to check.
    check = None if args.no_check or args.generate_external_id else _access_checker(settings)
    result = register_connection(_connections(settings), request, datetime.now(UTC), check=check)
    if result.shares_role_with:
        _progress(
            f"warning: role {result.connection.role_arn} is also the role of connection(s) "
            f"{', '.join(result.shares_role_with)}: they collect the same account"
        )
    print(_registered(result))
    if check is not None:
        print(f"checked: assumed the role with its ExternalId and read {len(request.regions)} region(s)")
    elif args.generate_external_id:
        _progress(f"not checked: once the customer has deployed the role, {PROG} connections test {args.connection_id}")
    if args.generate_external_id:
        # The one place the secret is printed: the operator has to hand it to the customer.
        print(f"ExternalId: {external_id}")
        _progress("give it to the customer for CarbonMeterCustomerRoleStack's ExternalId parameter; not shown again")
    return 0


def _access_checker(settings: Settings) -> AccessChecker:
    """The deployed collector checks (customers' roles trust its role alone); without one, this process does."""
    clients = ClientFactory(settings=settings)
    if settings.collector_function_name:
        through = check_access_through_collector(clients, settings.collector_function_name)
        return functools.partial(_announced, through, f"asking {settings.collector_function_name} to assume")
    return functools.partial(
        _announced,
        functools.partial(check_access, clients, session_name=settings.role_session_name),
        f"with your credentials ({COLLECTOR_FUNCTION_ENV} unset): assuming",
    )


def _announced(check: AccessChecker, how: str, role_arn: str, external_id: str, regions: Sequence[str]) -> AccessCheck:
    _progress(f"checking {role_arn}: {how} it and reading {len(regions)} region(s)")
    return check(role_arn, external_id, regions)


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
    tenant = f"tenant {connection.tenant}" if connection.tenant else "no tenant (no HTTP API user sees it)"
    return (
        f"connection {connection.connection_id} {verb}: account {connection.account_id}, {_regions_of(connection)}, "
        f"{tenant}"
    )


def _regions_of(target: CollectionTarget) -> str:
    return "every enabled region" if tuple(target.regions) == (ALL_REGIONS,) else f"{len(target.regions)} region(s)"


def run_connections_list(args: argparse.Namespace, settings: Settings) -> int:
    connections = list_connections(_connections(settings), settings.collection_window_hours)
    if args.format == "json":
        print(json.dumps(connections, indent=2))
        return 0
    rows = [
        [
            c["connection_id"],
            c.get("tenant") or "-",
            c["account_id"],
            "yes" if c["enabled"] else "no",
            ",".join(c["regions"]),
            c["last_success_hour"] or "-",
            (c["last_error"] or "-")[:60],
            f"{c['collection_window_hours']} h",
            _usd_or_na(c["monitoring_usd_per_month"]),
        ]
        for c in connections
    ]
    headers = ["connection", "tenant", "account", "enabled", "regions", "last hour collected", "last error"]
    print(report.table([*headers, "window", "monitoring USD/month"], rows))
    if connections:
        print(
            f"monitoring: CloudWatch GetMetricData, billed to the {BILLED_TO} (calls are made with its role): the "
            "last complete collection's metrics x collections a month; n/a until a first complete collection"
        )
    return 0


def _usd_or_na(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def run_connections_set_enabled(args: argparse.Namespace, settings: Settings) -> int:
    store = _connections(settings)
    if args.enabled:
        enable_connection(store, args.connection_id)
        print(f"connection {args.connection_id} enabled: the hourly run collects it again")
    else:
        disable_connection(store, args.connection_id)
        print(f"connection {args.connection_id} disabled")
    return 0


def run_connections_remove(args: argparse.Namespace, settings: Settings) -> int:
    removed = remove_connection(_connections(settings), args.connection_id)
    print(
        f"connection {removed.connection_id} removed (account {removed.account_id}): its stored usage, statuses and "
        "emissions stay in their tables, unread; registering the id again shows them again"
    )
    return 0


def run_connections_test(args: argparse.Namespace, settings: Settings) -> int:
    check = check_connection(_connections(settings), args.connection_id, _access_checker(settings))
    if check.assume_error is not None:
        raise CliError(check.assume_error)
    rows = [[region.region, "ok" if region.ok else region.error] for region in check.regions]
    print(f"assumed {check.role_arn} with the connection's ExternalId")
    print(report.table(["region", "read (ec2:DescribeInstances)"], rows))
    if not check.ok:
        failed = sum(1 for region in check.regions if not region.ok)
        raise CollectionIncompleteError(f"{failed} of {len(check.regions)} region(s) could not be read")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    now = datetime.now(UTC)
    found = queries.hour_statuses(clients, settings, args.connection_id, *window_of(args, now), now)
    if args.format == "json":
        document = {hour_key(h): s.model_dump(mode="json") if s else None for h, s in found.hours}
        print(json.dumps(document, indent=2))
        return 0
    rows = [[hour_key(hour), *_status_cells(status)] for hour, status in found.hours]
    print(report.table(["hour", "state", "attempts", "scopes ok", "missing", "skipped", "emissions"], rows))
    print(f"\n{found.complete} of {len(found.hours)} hour(s) complete")
    partial = sum(1 for _, status in found.hours if status is not None and status.inventory_incomplete)
    if partial:
        print(
            f"* {partial} hour(s) with an incomplete inventory: they ended before CarbonMeter first looked at the "
            "account, so a resource that had ended by then is missing from them"
        )
    return 0


def _status_cells(status: HourStatus | None) -> list[Any]:
    if status is None:
        return [hour_state(status), 0, 0, "-", "-", "-"]
    missing = "; ".join(f"{scope}: {error}" for scope, error in sorted(status.failed.items())) or "-"
    skipped = ", ".join(sorted(status.skipped)) or "-"
    state = hour_state(status) + ("*" if status.inventory_incomplete else "")
    return [state, status.attempts, len(status.succeeded), missing[:100], skipped, _emissions_cell(status)]


def _emissions_cell(status: HourStatus) -> str:
    if status.calculated:
        return "stored"
    if status.calculation_error:
        return f"failed: {status.calculation_error}"[:60]
    return "pending"


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    now = datetime.now(UTC)
    start, end = window_of(args, now)
    asked = [name for name in ("granularity", "breakdown", "top") if getattr(args, name) is not None]
    if len(asked) > 1:
        raise CliError(f"give one of --granularity, --breakdown and --top, not {' and '.join('--' + n for n in asked)}")
    if args.top is not None:
        return _report_top(args, clients, settings, (start, end), now)
    if args.granularity:
        return _report_series(args, clients, settings, (start, end), now)
    if args.breakdown:
        return _report_breakdown(args, clients, settings, (start, end), now)
    found = queries.connection_report(clients, settings, args.connection_id, start, end, now)
    if args.format == "json":
        document = report.document(found.report)
        if found.monitoring is not None:
            document["monitoring"] = found.monitoring.document()
        print(json.dumps(document, indent=2))
    else:
        title = (
            f"CarbonMeter report: connection {args.connection_id!r}, "
            f"{found.hours_with_emissions} of {found.report.hours} hour(s) with emissions"
        )
        print(report.text(found.report, title))
        if found.monitoring is not None:
            print(f"\n{found.monitoring.line()}")
    return 0


def _report_series(
    args: argparse.Namespace,
    clients: ClientFactory,
    settings: Settings,
    window: tuple[datetime, datetime],
    now: datetime,
) -> int:
    granularity, group_by = Granularity(args.granularity), GroupBy(args.group_by)
    try:
        found = queries.connection_footprint(clients, settings, args.connection_id, window, granularity, group_by, now)
    except FootprintWindowError as exc:
        raise CliError(str(exc)) from None
    if args.format == "json":
        print(found.model_dump_json(indent=2))
    else:
        title = f"CarbonMeter report: connection {args.connection_id!r}, by {granularity} and {group_by}"
        print(report.footprint_text(found, title))
    return 0


def _report_breakdown(
    args: argparse.Namespace,
    clients: ClientFactory,
    settings: Settings,
    window: tuple[datetime, datetime],
    now: datetime,
) -> int:
    group_by = GroupBy(args.breakdown)
    found = queries.connection_breakdown(clients, settings, args.connection_id, window, group_by, now)
    if args.format == "json":
        print(found.model_dump_json(indent=2))
    else:
        print(report.breakdown_text(found, f"CarbonMeter report: connection {args.connection_id!r}, by {group_by}"))
    return 0


def _report_top(
    args: argparse.Namespace,
    clients: ClientFactory,
    settings: Settings,
    window: tuple[datetime, datetime],
    now: datetime,
) -> int:
    found = queries.connection_top(clients, settings, args.connection_id, window, args.top, now)
    if args.format == "json":
        print(found.model_dump_json(indent=2))
    else:
        title = f"CarbonMeter report: connection {args.connection_id!r}, the {args.top} that emitted the most"
        print(report.top_text(found, title))
    return 0


def _top_count(value: str) -> int:
    count = _count(value)
    if count > TOP_KEPT:
        raise argparse.ArgumentTypeError(f"{value!r}: at most {TOP_KEPT} (the resources each period keeps)")
    return count


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    now = datetime.now(UTC)
    window = window_of(args, now)
    granularity, by = Granularity(args.granularity), GroupBy(args.by)
    try:
        rows = export_rows(clients, settings, args.connection_id, window, granularity, by, now)
    except FootprintWindowError as exc:
        raise CliError(str(exc)) from None
    progress = _ExportProgress()
    lines = export_lines(progress.counted(rows), ExportFormat(args.format))
    if args.output is None:
        try:
            sys.stdout.writelines(lines)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (``| head``): it has what it asked for, and Python's exit flush must not fail.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    else:
        _write_whole(args.output, lines)
    where = args.output or "stdout"
    print(f"exported {progress.rows:,} row(s) to {where}", file=sys.stderr, flush=True)
    return 0


class _ExportProgress:
    """A line on stderr at each new month the rows reach: a year of hourly rows says where it is twelve times."""

    def __init__(self) -> None:
        self.rows = 0
        self._month = ""

    def counted(self, rows: Iterable[FootprintRow]) -> Iterator[FootprintRow]:
        for row in rows:
            month = f"{row.period_start:%Y-%m}"
            if self.rows and month != self._month:
                print(f"  {self.rows:,} row(s), now at {month}", file=sys.stderr, flush=True)
            self._month = month
            self.rows += 1
            yield row


def _write_whole(path: str, lines: Iterable[str]) -> None:
    """Write beside ``path`` and move it there once complete: a failed export leaves no half file behind."""
    partial = f"{path}.partial"
    try:
        with open(partial, "w", encoding="utf-8", newline="") as out:
            out.writelines(lines)
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise


def _anomalies_command(commands: Any) -> None:
    about = (
        "A connection's stored anomalies: runs of hours whose CO2e or count of resources, per region and service, "
        "left the robust range of the same hour in recent weeks (or days) for most of a few hours "
        "(docs/insights.md, 'Anomalies'). Default window: the last 7 days."
    )
    anomalies = commands.add_parser(
        "anomalies", help="a connection's anomalies (CO2e and resource jumps)", description=about
    )
    anomalies.add_argument("--connection-id", required=True, help="the id it was registered with")
    anomalies.add_argument("--since", type=_hour, help="first hour, e.g. 2026-11-23T00:00:00Z (default: 7 days ago)")
    anomalies.add_argument("--until", type=_hour, help="end of the window (exclusive; default: the current hour's end)")
    anomalies.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    anomalies.set_defaults(run=run_anomalies)


def run_anomalies(args: argparse.Namespace, settings: Settings) -> int:
    until = args.until or datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = args.since or until - timedelta(days=7)
    found = connection_anomalies(ClientFactory(settings=settings), settings, args.connection_id, since, until)
    if args.format == "json":
        print(json.dumps([anomaly.model_dump(mode="json") for anomaly in found], indent=2))
        return 0
    print(f"CarbonMeter anomalies: connection {args.connection_id!r}, {hour_key(since)} to {hour_key(until)}")
    if found:
        print(anomalies_table(found))
    print(f"\n{len(found)} anomal{'y' if len(found) == 1 else 'ies'}")
    return 0


def _connections(settings: Settings) -> ConnectionStore:
    return ConnectionStore(ClientFactory(settings=settings), settings.connections_table)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        return int(args.run(args, settings))
    except (
        CliError,
        WindowError,
        RoleAssumptionError,
        UnknownConnectionError,
        ConfigurationError,
        UnknownRegionError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RegistrationError as exc:
        print(f"error: {exc}{_REGISTRATION_HINTS.get(type(exc), '')}", file=sys.stderr)
        return EXIT_USAGE
    except MissingTableError as exc:
        print(f"error: {_missing_table(exc, settings)}", file=sys.stderr)
        return EXIT_FAILURE
    except NoCredentialsError:
        print(
            "error: no AWS credentials found (set AWS_PROFILE or the AWS_* variables; "
            f"for a local CarbonMeter, {ENDPOINT_ENV})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except (CollectionIncompleteError, CollectorCheckError, ClientError, BotoCoreError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILURE


# The settings that name CarbonMeter's tables (the stack's outputs are named after them: connections_table gives
# ConnectionsTable).
_TABLE_SETTINGS = ("connections_table", "usage_table", "emissions_table")


def _missing_table(exc: MissingTableError, settings: Settings | None) -> str:
    where = f" at {settings.endpoint_url}" if settings and settings.endpoint_url else ""
    named_by = [field for field in _TABLE_SETTINGS if settings and getattr(settings, field) == exc.table_name]
    if not named_by:
        return f"{exc}{where}"
    field = named_by[0]
    output = "".join(part.title() for part in field.split("_"))
    return (
        f"{exc}{where}: {Settings.env_name(field)} chooses it; set it to the stack's {output} output, "
        f"or set {ENDPOINT_ENV} to a local CarbonMeter (make local)"
    )


# Cost beside carbon, and the reconciliation with AWS's own figures (carbonmeter/insights/, docs/insights.md)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD, e.g. 2026-11-23)") from None


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number (1 or more)")
    return int(value)


def _month_arg(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month (YYYY-MM, e.g. 2026-10)")
    return value


def _aws_figures_commands(commands: Any) -> None:
    about = (
        "The connection's daily spend (Cost Explorer, fetched once a day) beside its stored emissions over whole "
        "UTC days: carbon per dollar (kgCO2e/USD) per service and region, the share of the spend CarbonMeter "
        "meters, and the services it does not meter, by spend."
    )
    costs_parser = commands.add_parser(
        "costs", help="carbon per dollar by service and region; coverage", description=about
    )
    costs_parser.add_argument("--connection-id", required=True, help="the id it was registered with")
    costs_parser.add_argument("--start", type=_day, help="first day, e.g. 2026-11-01 (with --end)")
    costs_parser.add_argument("--end", type=_day, help="end day (exclusive), e.g. 2026-12-01")
    costs_parser.add_argument(
        "--last-days",
        type=_count,
        metavar="DAYS",
        help="instead of --start and --end: the DAYS before today (default 7)",
    )
    costs_parser.add_argument("--top", type=_count, default=10, help="unmetered services listed (default 10)")
    costs_parser.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    costs_parser.set_defaults(run=run_costs)
    about = (
        "AWS's own monthly figures for the account (the AWS Sustainability API, fetched from the 21st of the next "
        "month) beside CarbonMeter's month, for the same scopes: totals, by service and by region, with the ratio "
        "and its known causes."
    )
    reconcile_parser = commands.add_parser(
        "reconcile", help="CarbonMeter's month beside AWS's figures", description=about
    )
    reconcile_parser.add_argument("--connection-id", required=True, help="the id it was registered with")
    reconcile_parser.add_argument("--month", type=_month_arg, required=True, help="the month, YYYY-MM")
    reconcile_parser.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    reconcile_parser.set_defaults(run=run_reconcile)


def run_costs(args: argparse.Namespace, settings: Settings) -> int:
    today = datetime.now(UTC).date()
    if args.last_days is not None and (args.start or args.end):
        raise CliError("give --last-days, or --start and --end, not both")
    if (args.start is None) != (args.end is None):
        raise CliError("give both --start and --end (or --last-days)")
    start, end = (args.start, args.end) if args.start else (today - timedelta(days=args.last_days or 7), today)
    try:
        found = insight_costs.cost_insight(ClientFactory(settings=settings), settings, args.connection_id, start, end)
    except insight_costs.CostWindowError as exc:
        raise CliError(str(exc)) from None
    print(found.model_dump_json(indent=2) if args.format == "json" else insight_costs.cost_text(found, top=args.top))
    return 0


def run_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    try:
        found = insight_reconciliation.reconcile(clients, settings, args.connection_id, args.month)
    except insight_reconciliation.MonthError as exc:
        raise CliError(str(exc)) from None
    print(
        found.model_dump_json(indent=2) if args.format == "json" else insight_reconciliation.reconciliation_text(found)
    )
    return 0


def _recommendations_command(commands: Any) -> None:
    about = (
        "A connection's changes that would save the most kg CO2e a month, ranked, each with its assumptions: idle or "
        "oversized EC2 instances, their Graviton types, unattached EBS volumes, S3 data for a colder class; and, "
        "for information only, the cleanest grid in each region's geography (docs/insights.md#recommendations)."
    )
    parser = commands.add_parser(
        "recommendations", help="changes that would save the most kg CO2e a month, ranked", description=about
    )
    parser.add_argument("--connection-id", required=True, help="the id it was registered with")
    parser.add_argument(
        "--days",
        type=_count,
        default=recommendations.DEFAULT_DAYS,
        help=f"days of stored figures read (default 14, at most {recommendations.MAX_DAYS})",
    )
    parser.add_argument("--end", type=_hour, help="end of the days read (exclusive; default: the latest complete hour)")
    parser.add_argument("--limit", type=_count, metavar="N", help="the N largest changes only (default all)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="text for people (default) or json")
    parser.set_defaults(run=run_recommendations)


def run_recommendations(args: argparse.Namespace, settings: Settings) -> int:
    clients = ClientFactory(settings=settings)
    now = datetime.now(UTC)
    end = args.end or now.replace(minute=0, second=0, microsecond=0)
    if args.days > recommendations.MAX_DAYS:
        raise CliError(f"--days is at most {recommendations.MAX_DAYS}: every region-hour read is one query")
    found = recommendations.connection_recommendations(clients, settings, args.connection_id, end, now, args.days)
    if args.format == "json":
        document = recommendations.document(found)
        if args.limit:
            document["recommendations"] = document["recommendations"][: args.limit]
        print(json.dumps(document, indent=2))
        return 0
    print(f"CarbonMeter recommendations: connection {args.connection_id!r}")
    print(recommendations.text(found, limit=args.limit))
    print(f"\nread with {found.dynamodb_requests} DynamoDB request(s)", file=sys.stderr)
    return 0
