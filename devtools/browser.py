"""A headless Debian chromium driven by Playwright for Python, for the browser tests and the page's benchmark (no
browser download).

The flags keep it from reaching anything but 127.0.0.1 on its own: no component updates, sync, first-run pages,
QUIC or background networking, and a user-data folder of its own each time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """A fresh headless chromium; each test opens its own context (its own cookies and sessionStorage)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    with tempfile.TemporaryDirectory(prefix="carbonmeter-chromium-") as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(FLAGS),
            accept_downloads=True,
        )
        try:
            yield browser
        finally:
            browser.close()
