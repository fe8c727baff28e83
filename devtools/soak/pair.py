"""The soak run and its fault-free reference, side by side in two processes, and the checks comparing them."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from carbonmeter.models import HOUR, hours_between, previous_whole_hour
from devtools.soak.checks import Check, check
from devtools.soak.options import SoakOptions, connection_ids
from devtools.soak.run import RunResult, SoakRun

Waiter = Callable[[], RunResult]


def soak_hours(options: SoakOptions, now: datetime) -> list[datetime]:
    """The faulty hours and the recovery hours after them, ending with the last whole hour before ``now``."""
    end = previous_whole_hour(now) + HOUR
    return hours_between(end - (options.hours + options.max_recovery_hours) * HOUR, end)


def run_soak(options: SoakOptions, now: datetime) -> tuple[RunResult, RunResult, list[Check]]:
    """The soak run, the fault-free reference, and the checks comparing them.

    The reference runs every seeded hour; only the hours the soak ran are compared. Each runs in a fresh
    process of its own: the embedded AWS's ids are seeded, but what moto draws depends on what the process did
    before (a first run in a process draws tens of thousands of ids more, for volumes and snapshots of moto's
    default images), so two runs get the same resource ids only from the same start.
    """
    seeded = soak_hours(options, now)
    with (
        reference_in_background(options, seeded) as reference_result,
        run_in_background("soak", options, seeded, faulty_hours=options.hours) as soak_result,
    ):
        soak = soak_result()
        reference = reference_result().restricted_to(soak.hours)
    return soak, reference, check(soak, reference, connection_ids(options))


def reference_in_background(options: SoakOptions, seeded: list[datetime]) -> AbstractContextManager[Waiter]:
    """The fault-free reference run, in a process of its own (see ``run_in_background``)."""
    return run_in_background("reference", options, seeded, faulty_hours=0)


@contextmanager
def run_in_background(name: str, options: SoakOptions, seeded: list[datetime], faulty_hours: int) -> Iterator[Waiter]:
    """Start a run in a process of its own, which ends with the block, finished or not.

    A daemon process, so that an interrupted soak (Ctrl-C, SIGTERM) leaves no run behind. The soak (faulty hours)
    recovers; the reference does not need to.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_run, args=(name, options, seeded, faulty_hours, sender), name=f"soak-{name}", daemon=True
    )
    worker.start()
    sender.close()
    try:
        yield lambda: _received(name, receiver, worker)
    finally:
        receiver.close()
        if worker.is_alive():
            worker.terminate()
        worker.join()


def _run(name: str, options: SoakOptions, seeded: list[datetime], faulty_hours: int, results: Connection) -> None:
    try:
        run = SoakRun(name, options, seeded, seeded, faulty_hours=faulty_hours)
        result: RunResult | str = run.execute(recover=faulty_hours > 0)
    except Exception:
        result = traceback.format_exc()
    results.send(result)
    results.close()


def _received(name: str, receiver: Connection, worker: BaseProcess) -> RunResult:
    try:
        result = receiver.recv()
    except EOFError:
        worker.join()
        raise RuntimeError(f"the {name} run ended without a result (exit code {worker.exitcode})") from None
    if isinstance(result, str):
        raise RuntimeError(f"the {name} run failed:\n{result}")
    assert isinstance(result, RunResult)
    return result
