"""Download the layer's wheels for the Lambda runtime, so that synth can build the layer offline.

Run ``python -m infra.wheelhouse`` (``make layer-wheels``) once after changing
``layers/carbonmeter/requirements.txt``; re-running only fetches what is missing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from infra.constants import ARCHITECTURE, LAYER_REQUIREMENTS, RUNTIME, WHEELHOUSE_ROOT
from infra.python_target import PythonTarget

LAMBDA_TARGET = PythonTarget.for_lambda(RUNTIME, ARCHITECTURE)
WHEELHOUSE_COMMAND = "make layer-wheels"


class WheelhouseMissingError(RuntimeError):
    """The layer cannot be built because its wheels were never downloaded."""


def wheelhouse_dir(target: PythonTarget = LAMBDA_TARGET) -> Path:
    return WHEELHOUSE_ROOT / target.label


def require_wheelhouse(target: PythonTarget = LAMBDA_TARGET) -> Path:
    """The wheelhouse for ``target``, or an error that tells the user how to create it."""
    directory = wheelhouse_dir(target)
    if not directory.is_dir() or not any(directory.glob("*.whl")):
        raise WheelhouseMissingError(
            f"no wheels for {target.label} in {directory}; run `{WHEELHOUSE_COMMAND}` "
            "(needs network once) before building the Lambda layer"
        )
    return directory


def download_command(
    requirements: Path = LAYER_REQUIREMENTS, target: PythonTarget = LAMBDA_TARGET, dest: Path | None = None
) -> list[str]:
    # --no-deps: requirements.txt is the complete, pinned set; pip must not add the runtime-provided SDK.
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--quiet",
        "--no-deps",
        *target.pip_arguments(),
        "--dest",
        str(dest or wheelhouse_dir(target)),
        "--requirement",
        str(requirements),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.wheelhouse", description=__doc__)
    parser.add_argument("--dest", type=Path, default=wheelhouse_dir(), help="directory for the wheels")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    return subprocess.run(download_command(dest=args.dest), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
