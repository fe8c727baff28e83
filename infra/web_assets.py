"""Assemble the web page for deployment: ``web/`` plus the pinned packages' files, into ``.build/web/``.

Run ``python -m infra.web_assets`` (``make web-assets``, part of ``make install``) after changing ``web/`` or a
pinned package's version; synth then deploys that folder without network or Docker. The page loads uPlot from
``vendor/uplot/`` under its root, and its API reference Swagger UI from ``vendor/swagger-ui/``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.constants import VENDORED, WEB_BUILD_DIR, WEB_INDEX, WEB_SOURCE_DIR, VendoredFiles

WEB_ASSETS_COMMAND = "make web-assets"
# Editors' and tools' leftovers never ship.
_IGNORED = (".*", "__pycache__", "*.pyc", "*~")


class WebAssetsError(RuntimeError):
    """The page cannot be assembled, or was not assembled before synth."""


def assemble(
    source: Path = WEB_SOURCE_DIR, vendored: Sequence[VendoredFiles] = VENDORED, dest: Path = WEB_BUILD_DIR
) -> Path:
    """Copy the page and the pinned packages' files into ``dest``, replacing what an earlier run left there."""
    if not (source / WEB_INDEX).is_file():
        raise WebAssetsError(f"no page to assemble: {source / WEB_INDEX} does not exist")
    for package in vendored:
        missing = [name for name in package.files if not (package.dist_dir / name).is_file()]
        if missing:
            raise WebAssetsError(
                f"{package.package}'s {', '.join(missing)} missing from {package.dist_dir}: run `make install` "
                "(npm ci installs the pinned packages)"
            )
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*_IGNORED))
    for package in vendored:
        vendor = staging / package.page_dir
        vendor.mkdir(parents=True, exist_ok=True)
        for name in package.files:
            shutil.copy2(package.dist_dir / name, vendor / name)
    # Swapped in whole, so an interrupted run never leaves a half-copied page for synth to deploy.
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return dest


def require_web_assets(directory: Path = WEB_BUILD_DIR) -> Path:
    """The assembled page, or an error that tells the user how to make it."""
    if not (directory / WEB_INDEX).is_file():
        raise WebAssetsError(
            f"the web page is not assembled: {directory / WEB_INDEX} does not exist; run `{WEB_ASSETS_COMMAND}`"
        )
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.web_assets", description=__doc__)
    parser.add_argument("--source", type=Path, default=WEB_SOURCE_DIR, help="folder of the page's own files")
    parser.add_argument("--dest", type=Path, default=WEB_BUILD_DIR, help="folder of the assembled page")
    args = parser.parse_args(argv)
    try:
        dest = assemble(args.source, dest=args.dest)
    except WebAssetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"assembled the web page in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
