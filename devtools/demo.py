"""``make demo``: the hourly pipeline end to end on an embedded AWS, with a seeded demo account.

Starts moto's server on 127.0.0.1, creates what the CDK stack would (tables, queues),
seeds a customer account with a mixed fleet and 48 hours of CloudWatch data,
registers it with the CLI, then for every hour fires the real scheduler with an
EventBridge event and drains both queues through the real collector and calculator.

``--readme`` runs it at a fixed hour and writes what it prints into the README's sample
(``tests/e2e/test_demo.py`` checks that the sample is what a run at that hour prints).
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from carbonmeter import cli, report
from carbonmeter.aws import ClientFactory
from carbonmeter.models import hour_key, hours_between
from carbonmeter.runtime import runtime
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore
from devtools.aws.pipeline import LocalPipeline, lambda_environment
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.generated import GeneratedSection
from devtools.insights import InsightContext, insights_text
from devtools.insights.aws_figures import run_aws_figures
from devtools.progress import say
from devtools.seed import DemoAccount, seed_demo_account
from devtools.surge import DemoSurge, demo_surge

DEFAULT_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
DEFAULT_HOURS = 48
CONNECTION_ID = "demo"
# The README's sample: the default demo ending at this hour (the seeded metrics follow the hour of day, so a
# fixed hour gives the same figures on every machine), between these two lines of README.md.
README = Path(__file__).parents[1] / "README.md"
README_END = datetime(2026, 12, 1, 9, tzinfo=UTC)
SAMPLE_BEGIN = "<!-- demo sample: written by `python -m devtools.demo --readme`; do not edit by hand -->"
SAMPLE_END = "<!-- end of demo sample -->"
_SAMPLE = GeneratedSection(SAMPLE_BEGIN, SAMPLE_END, fence="text")
# Where the sample's text starts in the demo's output: the report, after the registration line.
_REPORT_START = "CarbonMeter demo report"


def demo_arguments(prog: str, description: str | None) -> cli.CliParser:
    """The demo's options, shared by ``python -m devtools.local``; refusals are one ``error:`` line, as the CLI's."""
    parser = cli.CliParser(prog=prog, description=description)
    parser.add_argument(
        "--hours",
        type=cli.hour_count,
        default=DEFAULT_HOURS,
        help=f"hours of history to seed and collect (default {DEFAULT_HOURS})",
    )
    parser.add_argument(
        "--regions",
        type=cli.region_list,
        default=list(DEFAULT_REGIONS),
        help=f"{cli.REGIONS_HELP} (default {','.join(DEFAULT_REGIONS)})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = demo_arguments("python -m devtools.demo", __doc__)
    parser.add_argument(
        "--end", type=cli._hour, help="end of the window (exclusive), e.g. 2026-12-01T09:00:00Z (default: this hour)"
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help=f"run the default demo ending at {hour_key(README_END)} and write its report into README.md's sample",
    )
    args = parser.parse_args(argv)
    if args.readme:
        write_readme_sample(README, readme_sample())
        say(f"wrote the demo sample into {README.name}")
        return 0
    end = args.end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    demo(args.regions, hours_between(end - timedelta(hours=args.hours), end))
    return 0


def demo(regions: Sequence[str], hours: Sequence[datetime]) -> None:
    with embedded_aws() as endpoint:
        say(f"embedded AWS listening on {endpoint}")
        run_demo(regions, hours)


def readme_sample() -> str:
    """What the default demo ending at ``README_END`` prints, from its report on."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        demo(DEFAULT_REGIONS, hours_between(README_END - timedelta(hours=DEFAULT_HOURS), README_END))
    text = output.getvalue()
    return text[text.index(_REPORT_START) :].rstrip() + "\n"


def readme_sample_in(readme: str) -> str:
    """The sample as the README holds it (inside a fenced block between the markers)."""
    return _SAMPLE.read(readme)


def write_readme_sample(path: Path, sample: str) -> None:
    _SAMPLE.write(path, sample)


def last_hours(count: int) -> list[datetime]:
    """The ``count`` whole hours before the current one."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return hours_between(end - timedelta(hours=count), end)


@dataclass(frozen=True)
class DemoRun:
    """A deployed CarbonMeter on the embedded AWS with the demo account registered and its hours collected."""

    settings: Settings
    clients: ClientFactory
    account: DemoAccount
    hours: tuple[datetime, ...]
    pipeline: LocalPipeline


@contextmanager
def demo_collected(regions: Sequence[str], hours: Sequence[datetime]) -> Iterator[DemoRun]:
    """Create CarbonMeter's resources, seed and register the demo account, run every hour through the pipeline.

    Inside the block the functions' environment is set (their API-call counter and IAM guard are readable);
    what was stored stays on the embedded AWS after it.
    """
    settings = Settings.from_env()
    clients = ClientFactory(settings=settings)
    settings = create_resources(clients, settings)
    started = time.monotonic()
    account = seed_demo_account(clients, regions, hours)
    say(f"seeded demo account {account.account_id} in {', '.join(regions)} in {time.monotonic() - started:.1f}s")
    with lambda_environment(settings):
        registered = cli.main(
            [
                "connections", "add",
                "--connection-id", CONNECTION_ID,
                "--role-arn", account.role_arn,
                "--external-id", account.external_id,
                "--regions", ",".join(regions),
                # As if registered when the seeded history starts, so every hourly run collects its hour.
                "--collect-from", hour_key(hours[0]),
            ]
        )  # fmt: skip
        if registered != 0:
            raise RuntimeError("the demo account could not be registered (the error is above)")
        pipeline = LocalPipeline(clients, settings, account_id=account.account_id)
        run_hours(pipeline, hours, demo_surge(regions, hours))
        run_aws_figures(pipeline, CONNECTION_ID, regions)
        yield DemoRun(settings, clients, account, tuple(hours), pipeline)


def run_demo(regions: Sequence[str], hours: Sequence[datetime]) -> None:
    with demo_collected(regions, hours) as run:
        _print_report(run.settings, run.clients, hours)
        guard = run.pipeline.guard
        print(
            f"\nIAM: {sum(guard.allowed.values()):,} calls by the functions authorized against their deployed "
            f"policies (synthesized stack), {len(guard.denials)} refused"
        )


def run_hours(pipeline: LocalPipeline, hours: Sequence[datetime], surge: DemoSurge | None = None) -> None:
    started = time.monotonic()
    # On a terminal the progress line rewrites itself; in a log each hour gets its own line.
    interactive = sys.stderr.isatty()
    for done, hour in enumerate(hours, start=1):
        if surge is not None:
            surge.before(pipeline.clients, hour)
        collected, calculated = pipeline.run_hour(hour)
        failures = collected.failed + calculated.failed
        line = (
            f"[{done:>3}/{len(hours)}] {hour_key(hour)}: collected {collected.succeeded}, "
            f"calculated {calculated.succeeded}, failed {failures}"
        )
        say(f"\r{line}" if interactive else line, end="" if interactive else "\n")
    elapsed = time.monotonic() - started
    say(
        f"{chr(10) if interactive else ''}ran {len(hours)} hours through scheduler -> collector -> calculator "
        f"in {elapsed:.1f}s"
    )


def _print_report(settings: Settings, clients: ClientFactory, hours: Sequence[datetime]) -> None:
    start, end = hours[0], hours[-1] + timedelta(hours=1)
    rollups = EmissionStore(clients, settings.emissions_table).rollups(CONNECTION_ID, start, end)
    title = f"CarbonMeter demo report: connection {CONNECTION_ID!r}"
    print(f"\n{report.text(report.from_rollups(rollups, start, end), title)}")
    if insights := insights_text(InsightContext(settings, clients, CONNECTION_ID, start, end)):
        print(f"\n{insights}")
    heading = "For the operator: the AWS API calls the pipeline made (customer account and CarbonMeter's own)"
    print(f"\n{report.operations_text(runtime().clients.counter, heading)}")


if __name__ == "__main__":
    sys.exit(main())
