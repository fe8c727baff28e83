"""``make local``: a local CarbonMeter that stays up and keeps its data between commands.

The demo's embedded AWS (CarbonMeter's tables and queues, the demo account seeded, registered and its hours
collected through the real functions), left running on 127.0.0.1 until Ctrl-C. The CLI reaches it from any
shell with one setting, ``CARBONMETER_ENDPOINT_URL``; what the commands store stays until it stops.

``local_carbonmeter()`` is the component: other workbench tools (a local web page) run inside it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any

from carbonmeter.cli import ENDPOINT_ENV, PROG
from carbonmeter.models import HOUR, hour_key
from carbonmeter.settings import Settings
from devtools.aws.server import EmbeddedAwsError, embedded_aws
from devtools.demo import CONNECTION_ID, demo_arguments, demo_collected, last_hours
from devtools.progress import say
from devtools.seed import DemoAccount

# Fixed, so that the setting to export stays the same from one start to the next (--port 0 takes any free one).
DEFAULT_PORT = 4599


@dataclass(frozen=True)
class LocalCarbonMeter:
    """A running local CarbonMeter: where it listens, its settings, and the demo connection it holds."""

    endpoint: str
    settings: Settings
    account: DemoAccount
    connection_id: str
    hours: tuple[datetime, ...]

    @property
    def environment(self) -> dict[str, str]:
        """What a shell exports for the CLI to use it: the one setting."""
        return {ENDPOINT_ENV: self.endpoint}

    def commands(self) -> list[str]:
        """CLI commands that read what it holds, as a user types them after exporting the setting."""
        window = f"--start {hour_key(self.hours[0])} --end {hour_key(self.hours[-1] + HOUR)}"
        return [
            f"{PROG} connections list",
            f"{PROG} status --connection-id {self.connection_id} --last 6",
            f"{PROG} report --connection-id {self.connection_id} {window}",
        ]


@contextmanager
def local_carbonmeter(
    regions: Sequence[str], hours: Sequence[datetime], port: int = DEFAULT_PORT
) -> Iterator[LocalCarbonMeter]:
    """Start the embedded AWS on ``port``, collect the demo account's ``hours`` into it, and keep it up in the block."""
    with embedded_aws(port=port) as endpoint:
        say(f"embedded AWS listening on {endpoint}; collecting the demo account ({len(hours)} hours)")
        with demo_collected(regions, hours) as run:
            local = LocalCarbonMeter(endpoint, run.settings, run.account, CONNECTION_ID, run.hours)
        yield local


def main(argv: Sequence[str] | None = None) -> int:
    parser = demo_arguments("python -m devtools.local", __doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 to listen on (default {DEFAULT_PORT}; 0 takes any free port)",
    )
    args = parser.parse_args(argv)
    try:
        with local_carbonmeter(args.regions, last_hours(args.hours), args.port) as local:
            _announce(local)
            ignore_cdk_runtime_exit_error()
            wait_for_stop()
    except EmbeddedAwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    say("stopped; what it held is gone")
    return 0


def _announce(local: LocalCarbonMeter) -> None:
    # stdout carries exactly what a user (or a script) needs; progress went to stderr.
    (name, value), *_ = local.environment.items()
    print(f"local CarbonMeter up on {local.endpoint}, connection {local.connection_id!r} collected. In another shell:")
    print(f"  export {name}={value}")
    for command in local.commands():
        print(f"  .venv/bin/{command}")
    print("Ctrl-C stops it (and forgets everything).", flush=True)


def ignore_cdk_runtime_exit_error() -> None:
    """Drop the one report of jsii's exit hook failing to stop the CDK's node process after Ctrl-C.

    The terminal sends Ctrl-C to the whole process group, node included, which ends at once; jsii's exit hook
    then writes to its closed pipe. Nothing is lost: node is gone already. Any other report is printed as usual.
    """
    default = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        source = getattr(unraisable.object, "__module__", "") or ""
        if isinstance(unraisable.exc_value, BrokenPipeError) and source.startswith("jsii."):
            return
        default(unraisable)

    sys.unraisablehook = hook


def wait_for_stop() -> None:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C (SIGINT) and a plain kill (SIGTERM) both end it cleanly: the server is stopped, the port freed.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    while not stop.wait(timeout=1):
        pass


if __name__ == "__main__":
    sys.exit(main())
