"""``python -m devtools.soak``: run the soak, print its figures, exit non-zero when a check fails."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType

import devtools.soak as package
from devtools.soak.options import (
    DEFAULT_CONNECTIONS,
    DEFAULT_FAULT_RATE,
    DEFAULT_HOURS,
    DEFAULT_MAX_RECOVERY_HOURS,
    FLEET_REGIONS,
    SoakOptions,
)
from devtools.soak.pair import run_soak
from devtools.soak.summary import render


def main(argv: Sequence[str] | None = None) -> int:
    options = _options(argv)
    soak, reference, checks = run_soak(options, datetime.now(UTC))
    print(render(options, soak, reference, checks))
    return 0 if all(c.passed for c in checks) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.soak", description=(package.__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--hours", type=int, default=DEFAULT_HOURS, help="hours with faults injected")
    parser.add_argument(
        "--fault-rate", type=float, default=DEFAULT_FAULT_RATE, help="share of requests faulted per kind (0 to 1)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fleets", type=int, default=len(FLEET_REGIONS), help=f"customer fleets seeded (1 to {len(FLEET_REGIONS)})"
    )
    parser.add_argument(
        "--max-recovery-hours",
        type=int,
        default=DEFAULT_MAX_RECOVERY_HOURS,
        help="fault-free hourly runs allowed after the faulty ones to complete every hour",
    )
    parser.add_argument(
        "--retry-after-hours",
        type=int,
        default=SoakOptions.retry_after_hours,
        help="hours before the hourly run re-queues an incomplete hour (CARBONMETER_RETRY_INCOMPLETE_AFTER_HOURS)",
    )
    parser.add_argument(
        "--retry-mode",
        choices=["standard", "adaptive"],
        default="standard",
        help="botocore retry mode of the calls into customer accounts (the stack's default is adaptive)",
    )
    return parser


def _options(argv: Sequence[str] | None) -> SoakOptions:
    parser = _parser()
    args = parser.parse_args(argv)
    if min(args.connections, args.hours, args.retry_after_hours) < 1 or args.max_recovery_hours < 0:
        parser.error("--connections, --hours and --retry-after-hours must be at least 1, --max-recovery-hours 0")
    if not 1 <= args.fleets <= len(FLEET_REGIONS):
        parser.error(f"--fleets must be between 1 and {len(FLEET_REGIONS)}")
    if not 0 <= args.fault_rate <= 1:
        parser.error("--fault-rate must be between 0 and 1")
    return SoakOptions(
        connections=args.connections,
        hours=args.hours,
        fault_rate=args.fault_rate,
        seed=args.seed,
        fleets=args.fleets,
        max_recovery_hours=args.max_recovery_hours,
        retry_after_hours=args.retry_after_hours,
        retry_mode=args.retry_mode,
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # As for Ctrl-C: unwind, so that the reference process and the embedded AWS servers are stopped.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
