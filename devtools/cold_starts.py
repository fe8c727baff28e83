"""Each Lambda handler's import time (its cold start's share that is ours), as a ratio to a bare ``import boto3``.

Every import runs in a fresh interpreter, in the environment Lambda gives the function (``LAMBDA_TASK_ROOT`` set,
so that Powertools' Tracer is on and the X-Ray SDK takes its Lambda path, as deployed with active tracing). The
handlers and ``boto3`` take turns, several rounds, and each figure is the median of its rounds: a machine shared
with other work slows all of them alike, which the ratio to ``boto3`` cancels out.

The layer's size is measured on the layer as the stack builds it (``infra/layer.py``: the library and the wheels
of ``layers/carbonmeter/requirements.txt`` for the Lambda's Python and architecture), unzipped and zipped.

``python -m devtools.cold_starts`` prints the table and the layer's size; ``--importtime collector`` the modules a
handler's import spends most on (``python -X importtime``, cumulative).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

# The handlers Lambda imports, and the targets of issue 15 on the machine the benchmark was written on (ms).
HANDLERS: Mapping[str, str] = {
    "collector": "functions.collector.handler",
    "scheduler": "functions.scheduler.handler",
    "calculator": "functions.calculator.handler",
    "api": "functions.api.handler",
}
TARGET_MS: Mapping[str, float] = {"collector": 250.0, "scheduler": 250.0, "calculator": 300.0}
BASELINE = "boto3"
# The least a handler imports (boto3, a pydantic message model, Powertools' logger, metrics and tracer): the floor
# under the targets on this machine; each handler's cost above it is its own code.
FLOOR = "devtools.cold_start_floor"
DEFAULT_REPEATS = 7
# Times the import alone (the interpreter's own start is the same for every module), then reads the process's peak
# resident memory (VmHWM, KiB): what the function holds before its first message. Not getrusage's ru_maxrss, which
# Linux carries over from the parent process across exec.
_TIMED_IMPORT = (
    "import re, sys, time; t = time.perf_counter(); __import__(sys.argv[1]); s = time.perf_counter() - t; "
    "print(s, re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
)
# What the environment of a test run or a workstation sets that Lambda does not.
_NOT_IN_LAMBDA = ("POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")


@dataclass(frozen=True)
class ImportTime:
    name: str
    module: str
    median_ms: float
    ratio: float
    target_ms: float | None
    rss_mib: float

    @property
    def within_target(self) -> bool | None:
        return None if self.target_ms is None else self.median_ms <= self.target_ms


def lambda_like_environment(task_root: str) -> dict[str, str]:
    """This process's environment as Lambda would give a function of the stack: tracing on, a task root."""
    env = {key: value for key, value in os.environ.items() if key not in _NOT_IN_LAMBDA}
    env.update(
        {
            "LAMBDA_TASK_ROOT": task_root,
            "AWS_REGION": env.get("AWS_REGION", "eu-west-1"),
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "eu-west-1"),
            "POWERTOOLS_SERVICE_NAME": "carbonmeter",
            "POWERTOOLS_METRICS_NAMESPACE": "CarbonMeter",
        }
    )
    return env


def import_seconds(module: str, env: Mapping[str, str]) -> tuple[float, float]:
    """The time ``import module`` takes in a fresh interpreter, and the interpreter's peak memory then (MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT, module], env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {done.stderr.strip().splitlines()[-1:]}")
    seconds, rss_kib = done.stdout.split()
    return float(seconds), int(rss_kib) / 1024


def modules_after_import(module: str, env: Mapping[str, str]) -> frozenset[str]:
    """The modules a fresh interpreter holds once it has imported ``module`` (and nothing else)."""
    listing = f"import sys; __import__({module!r}); print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", listing], env=dict(env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {done.stderr.strip().splitlines()[-1:]}")
    return frozenset(done.stdout.split())


def measure(
    handlers: Mapping[str, str] = HANDLERS, repeats: int = DEFAULT_REPEATS, say: Callable[[str], None] | None = None
) -> tuple[float, float, list[ImportTime]]:
    """The median import time (ms) of ``boto3``, of the floor (``FLOOR``) and of each handler, taking turns."""
    with tempfile.TemporaryDirectory(prefix="task-root-") as task_root:
        env = lambda_like_environment(task_root)
        modules = {BASELINE: BASELINE, FLOOR: FLOOR, **handlers}
        rounds: dict[str, list[float]] = {name: [] for name in modules}
        rss: dict[str, list[float]] = {name: [] for name in modules}
        for round_number in range(repeats):
            if say:
                say(f"import times: round {round_number + 1} of {repeats}")
            for name, module in modules.items():
                seconds, mib = import_seconds(module, env)
                rounds[name].append(seconds * 1000)
                rss[name].append(mib)
    baseline = statistics.median(rounds[BASELINE])
    times = [
        ImportTime(
            name,
            module,
            median_ms=statistics.median(rounds[name]),
            ratio=statistics.median(rounds[name]) / baseline,
            target_ms=TARGET_MS.get(name),
            rss_mib=statistics.median(rss[name]),
        )
        for name, module in handlers.items()
    ]
    return baseline, statistics.median(rounds[FLOOR]), times


def table(baseline_ms: float, floor_ms: float, times: Sequence[ImportTime]) -> list[str]:
    lines = [
        f"{'handler':<12}{'import ms':>11}{'x boto3':>9}{'target ms':>11}{'of target':>11}{'rss MiB':>9}",
        f"{'boto3':<12}{baseline_ms:>11.0f}{1.0:>9.2f}",
        f"{'floor':<12}{floor_ms:>11.0f}{floor_ms / baseline_ms:>9.2f}",
    ]
    for t in times:
        target = "" if t.target_ms is None else f"{t.target_ms:.0f}"
        share = "" if t.target_ms is None else f"{t.median_ms / t.target_ms:.2f}"
        lines.append(f"{t.name:<12}{t.median_ms:>11.0f}{t.ratio:>9.2f}{target:>11}{share:>11}{t.rss_mib:>9.0f}")
    return lines


def heaviest_imports(module: str, top: int = 25) -> list[str]:
    """``python -X importtime``'s lines for ``module``, the largest cumulative times first."""
    with tempfile.TemporaryDirectory(prefix="task-root-") as task_root:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            env=lambda_like_environment(task_root),
            capture_output=True,
            text=True,
            check=True,
        )
    rows = [line for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    timed = [row for row in rows if row.split("|")[1].strip().isdigit()]
    return sorted(timed, key=lambda row: int(row.split("|")[1]), reverse=True)[:top]


@dataclass(frozen=True)
class LayerSize:
    target: str
    files: int
    unzipped_bytes: int
    zipped_bytes: int


def layer_size() -> LayerSize:
    """The layer as ``cdk synth`` bundles it (needs ``make layer-wheels``), unzipped and zipped as its asset is."""
    from infra.layer import WheelhouseBundling
    from infra.wheelhouse import LAMBDA_TARGET

    with tempfile.TemporaryDirectory(prefix="layer-") as work:
        out = Path(work) / "asset"
        WheelhouseBundling(LAMBDA_TARGET).try_bundle(str(out), cast(Any, None))
        files = [path for path in sorted(out.rglob("*")) if path.is_file()]
        archive = Path(work) / "layer.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(out))
        return LayerSize(
            target=LAMBDA_TARGET.label,
            files=len(files),
            unzipped_bytes=sum(path.stat().st_size for path in files),
            zipped_bytes=archive.stat().st_size,
        )


def layer_lines(size: LayerSize) -> list[str]:
    mib = 1024 * 1024
    return [
        f"layer for {size.target}: {size.files:,} files, {size.unzipped_bytes / mib:.1f} MiB unzipped, "
        f"{size.zipped_bytes / mib:.1f} MiB zipped (Lambda allows 250 MiB unzipped for a function and its layers)"
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.cold_starts", description=__doc__)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="rounds (default 7); medians")
    parser.add_argument("--importtime", choices=sorted(HANDLERS), help="list the handler's heaviest imports instead")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.importtime:
        print("\n".join(heaviest_imports(HANDLERS[args.importtime])))
        return 0
    baseline, floor, times = measure(repeats=args.repeats, say=lambda text: print(text, file=sys.stderr))
    print("\n".join([*table(baseline, floor, times), *layer_lines(layer_size())]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
