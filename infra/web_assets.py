"""Assemble the web page for deployment: ``web/`` plus the pinned uPlot files, into ``.build/web/``.

Run ``python -m infra.web_assets`` (``make web-assets``, part of ``make install``) after changing ``web/`` or
uPlot's version; synth then deploys that folder without network or Docker. The page loads uPlot from
``vendor/uplot/`` under its root.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from infra.constants import UPLOT_DIST_DIR, UPLOT_FILES, UPLOT_PAGE_DIR, WEB_BUILD_DIR, WEB_INDEX, WEB_SOURCE_DIR

WEB_ASSETS_COMMAND = "make web-assets"
# Editors' and tools' leftovers never ship.
_IGNORED = (".*", "__pycache__", "*.pyc", "*~")


class WebAssetsError(RuntimeError):
    """The page cannot be assembled, or was not assembled before synth."""


def assemble(source: Path = WEB_SOURCE_DIR, uplot: Path = UPLOT_DIST_DIR, dest: Path = WEB_BUILD_DIR) -> Path:
    """Copy the page and uPlot's files into ``dest``, replacing what an earlier run left there."""
    if not (source / WEB_INDEX).is_file():
        raise WebAssetsError(f"no page to assemble: {source / WEB_INDEX} does not exist")
    missing = [name for name in UPLOT_FILES if not (uplot / name).is_file()]
    if missing:
        raise WebAssetsError(
            f"uPlot's {', '.join(missing)} missing from {uplot}: run `make install` (npm ci installs the pinned uPlot)"
        )
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*_IGNORED))
    vendor = staging / UPLOT_PAGE_DIR
    vendor.mkdir(parents=True, exist_ok=True)
    for name in UPLOT_FILES:
        shutil.copy2(uplot / name, vendor / name)
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
