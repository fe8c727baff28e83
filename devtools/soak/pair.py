"""The soak run and its fault-free reference, side by side in two processes, and the checks comparing them."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from carbonmeter.models import HOUR, hours_between, previous_whole_hour
from devtools.soak.checks import Check, check
from devtools.soak.options import SoakOptions, connection_ids
from devtools.soak.run import RunResult, SoakRun


def soak_hours(options: SoakOptions, now: datetime) -> list[datetime]:
    """The faulty hours and the recovery hours after them, ending with the last whole hour before ``now``."""
    end = previous_whole_hour(now) + HOUR
    return hours_between(end - (options.hours + options.max_recovery_hours) * HOUR, end)


def run_soak(options: SoakOptions, now: datetime) -> tuple[RunResult, RunResult, list[Check]]:
    """The soak run, the fault-free reference, and the checks comparing them.

    The reference runs every seeded hour; only the hours the soak ran are compared.
    """
    seeded = soak_hours(options, now)
    with reference_in_background(options, seeded) as reference_result:
        soak = SoakRun("soak", options, seeded, seeded, faulty_hours=options.hours).execute(recover=True)
        reference = reference_result().restricted_to(soak.hours)
    return soak, reference, check(soak, reference, connection_ids(options))


@contextmanager
def reference_in_background(options: SoakOptions, seeded: list[datetime]) -> Iterator[Callable[[], RunResult]]:
    """Start the reference run in a process of its own, which ends with the block, finished or not.

    A daemon process, so that an interrupted soak (Ctrl-C, SIGTERM) leaves no reference run behind.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_reference_run, args=(options, seeded, sender), name="soak-reference", daemon=True)
    worker.start()
    sender.close()
    try:
        yield lambda: _received(receiver, worker)
    finally:
        receiver.close()
        if worker.is_alive():
            worker.terminate()
        worker.join()


def _reference_run(options: SoakOptions, seeded: list[datetime], results: Connection) -> None:
    try:
        result: RunResult | str = SoakRun("reference", options, seeded, seeded, faulty_hours=0).execute(recover=False)
    except Exception:
        result = traceback.format_exc()
    results.send(result)
    results.close()


def _received(receiver: Connection, worker: BaseProcess) -> RunResult:
    try:
        result = receiver.recv()
    except EOFError:
        worker.join()
        raise RuntimeError(f"the reference run ended without a result (exit code {worker.exitcode})") from None
    if isinstance(result, str):
        raise RuntimeError(f"the reference run failed:\n{result}")
    assert isinstance(result, RunResult)
    return result
