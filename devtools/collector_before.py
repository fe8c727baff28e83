"""The collector as it was before its CPU was cut (issue #15, item 3), measured again on this machine, in this run.

A "before" recorded on one machine says little of an "after" timed on another: the two-core machines this project
is benchmarked on differ by half again from one session to the next. So ``make benchmark`` takes the code of
``BEFORE_COMMIT`` out of the repository's history (``git archive``, into a temporary folder), runs that version's
own benchmark on the same fleet with the same settings, and compares its client-only collection with this one's.

Without the history (a copy of the tree, a shallow clone), the benchmark says so and falls back to the figures
recorded in ``devtools.collector_cpu``.

``python -m devtools.collector_before`` runs the old benchmark alone and prints its figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.progress import say as _say

# The parent of the first commit of item 3's work ("garbage collector paused during collect()"): the code whose
# client-only collection the target asks a third of.
BEFORE_COMMIT = "eb57b68b5f69994e3bfe99095f2411eb47b74ccc"
# What that version's benchmark needs of the tree: its devtools, the library and the handlers it imports.
_FOLDERS = ("devtools", "layers", "functions", "infra")
# The fleet the target is set on (``devtools.collector_cpu``): the only one measured again.
SIZE = 10_000
REPOSITORY = Path(__file__).resolve().parent.parent


class BeforeUnavailable(RuntimeError):
    """The old code could not be measured here (no git, no history, or its benchmark failed)."""


@dataclass(frozen=True)
class BeforeRun:
    """The old code's collection of one fleet size: client only, and with latency in parallel and in turn."""

    size: int
    records: int
    api_calls: int
    client_seconds: float
    parallel_seconds: float
    sequential_seconds: float

    @property
    def speedup(self) -> float:
        return self.sequential_seconds / self.parallel_seconds


def from_document(document: Mapping[str, Any], size: int) -> BeforeRun:
    """The figures of ``size`` in the old benchmark's JSON (``--format json``)."""
    for fleet in document.get("fleets", []):
        if fleet.get("size") == size:
            return BeforeRun(
                size=size,
                records=int(fleet["usage_records"]),
                api_calls=int(fleet["api_calls"]),
                client_seconds=float(fleet["client_seconds"]),
                parallel_seconds=float(fleet["parallel_seconds"]),
                sequential_seconds=float(fleet["sequential_seconds"]),
            )
    raise BeforeUnavailable(f"the old benchmark gave no figures for {size:,} resources")


def measure(size: int, regions: Sequence[str], latency_ms: float, *, say: Callable[[str], None] = _say) -> BeforeRun:
    """Run ``BEFORE_COMMIT``'s benchmark of ``size`` resources in a fresh interpreter, its progress passed on."""
    with tempfile.TemporaryDirectory(prefix="carbonmeter-before-") as work:
        tree = Path(work)
        _extract(tree)
        say(f"[before] the collector at {BEFORE_COMMIT[:10]}: {size:,} resources, its own benchmark")
        command = [sys.executable, "-m", "devtools.benchmark", "--sizes", str(size), "--regions", ",".join(regions)]
        command += ["--latency-ms", f"{latency_ms:g}", "--no-year-reads", "--no-export", "--format", "json"]
        # The old library first, ahead of the one this environment has installed.
        path = os.pathsep.join([str(tree / "layers" / "carbonmeter" / "python"), str(tree)])
        done = _run(command, tree, {**os.environ, "PYTHONPATH": path}, say)
    return from_document(json.loads(done), size)


def _extract(tree: Path) -> None:
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPOSITORY), "archive", "--format=tar", BEFORE_COMMIT, *_FOLDERS],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        reason = detail.decode().strip() or error
        raise BeforeUnavailable(f"no history to take {BEFORE_COMMIT[:10]} from: {reason}") from error
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")


def _run(command: list[str], cwd: Path, env: Mapping[str, str], say: Callable[[str], None]) -> str:
    # Its answer to a file, its progress through a pipe read as it comes: two pipes could fill one while the other
    # is read.
    answer = cwd / "answer.json"
    with answer.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        lines = []
        for line in process.stderr or ():
            lines.append(line)
            say(f"[before] {line.rstrip()}")
    if process.wait() != 0:
        raise BeforeUnavailable(f"the old benchmark failed ({process.returncode}): {''.join(lines[-5:]).strip()}")
    return answer.read_text()


def main(argv: Sequence[str] | None = None) -> int:
    from devtools.benchmark import DEFAULT_REGIONS  # here: the benchmark imports this module

    parser = argparse.ArgumentParser(prog="python -m devtools.collector_before", description=__doc__)
    parser.add_argument("--size", type=int, default=SIZE, help=f"resources in the fleet (default {SIZE})")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every request (default 50)")
    args = parser.parse_args(argv)
    try:
        run = measure(args.size, DEFAULT_REGIONS, args.latency_ms)
    except BeforeUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"before ({BEFORE_COMMIT[:10]}), {run.size:,} resources, {run.records:,} records, {run.api_calls:,} API calls:"
        f" client only {run.client_seconds:.2f} s; with {args.latency_ms:g} ms a request, regions in parallel"
        f" {run.parallel_seconds:.2f} s, in turn {run.sequential_seconds:.2f} s ({run.speedup:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
