"""The carbonmeter Lambda layer: the shared library plus its dependencies, built for the Lambda runtime."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.binary_compat import layer_problems
from infra.constants import (
    ARCHITECTURE,
    LAYER_DIR,
    LAYER_PACKAGE_DIR,
    LAYER_REQUIREMENTS,
    RUNTIME,
)
from infra.python_target import PythonTarget
from infra.wheelhouse import WHEELHOUSE_COMMAND, require_wheelhouse

# The layer asset is hashed from its source directory, so caches must not change the hash.
_IGNORED = ("__pycache__", "*.pyc")


class LayerBuildError(RuntimeError):
    """The layer could not be built for the Lambda runtime."""


@jsii.implements(ILocalBundling)
class WheelhouseBundling:
    """Builds the layer without Docker: copies the library and installs pre-downloaded wheels offline."""

    def __init__(self, target: PythonTarget, requirements: Path = LAYER_REQUIREMENTS) -> None:
        self._target = target
        self._requirements = requirements

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        site_packages = Path(output_dir) / "python"
        self._copy_library(site_packages / LAYER_PACKAGE_DIR.name)
        self._install_dependencies(site_packages)
        problems = layer_problems(site_packages, self._target)
        if problems:
            raise LayerBuildError(f"layer contains binaries that {self._target.label} cannot load: {problems}")
        return True

    @staticmethod
    def _copy_library(destination: Path) -> None:
        shutil.copytree(LAYER_PACKAGE_DIR, destination, ignore=shutil.ignore_patterns(*_IGNORED))

    def _install_dependencies(self, site_packages: Path) -> None:
        wheelhouse = require_wheelhouse(self._target)
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            *self._target.pip_arguments(),
            "--no-deps",
            "--no-compile",
            "--target",
            str(site_packages),
            "--requirement",
            str(self._requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LayerBuildError(
                f"installing the layer's wheels from {wheelhouse} failed; if requirements changed, "
                f"run `{WHEELHOUSE_COMMAND}` again.\n{result.stderr.strip()}"
            )


class CarbonMeterLayer(Construct):
    """The layer every CarbonMeter function uses."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        target = PythonTarget.for_lambda(RUNTIME, ARCHITECTURE)
        self.layer_version = lambda_.LayerVersion(
            self,
            "Layer",
            description="carbonmeter library with Powertools and pydantic",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(LAYER_DIR),
                exclude=[f"**/{pattern}" for pattern in _IGNORED],
                bundling=BundlingOptions(
                    # Only used if local bundling declines, which it never does: it fails loudly instead.
                    image=RUNTIME.bundling_image,
                    # jsii passes the options positionally, which the generated protocol does not describe.
                    local=cast(ILocalBundling, WheelhouseBundling(target)),
                ),
            ),
        )
