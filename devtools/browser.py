"""A headless Debian chromium driven by Playwright for Python, for the browser tests and the page's benchmark (no
browser download).

The flags keep it from reaching anything but 127.0.0.1 on its own: no component updates, sync, first-run pages,
QUIC or background networking, and a user-data folder of its own each time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, sync_playwright

from devtools.dashboard import Dashboard, DemoUser

CHROMIUM = Path("/usr/bin/chromium")
# How long a view may take to draw before a test or a benchmark gives up on it.
VIEW_TIMEOUT_MS = 120_000
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


def sign_in(
    context: BrowserContext,
    site: Dashboard,
    user: DemoUser,
    width: int = 1280,
    on_request: Callable[[str], None] | None = None,
) -> Page:
    """A new tab signed in as ``user`` through the page's form, its overview drawn; ``on_request`` hears every
    URL the page asks for from the start."""
    page = context.new_page()
    if on_request is not None:
        page.on("request", lambda request: on_request(request.url))
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site.url)
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    wait_for_view(page, "overview")
    return page


def wait_for_view(page: Page, view: str) -> None:
    page.wait_for_selector(f"#view[data-ready='{view}']", timeout=VIEW_TIMEOUT_MS)
