"""How long the web page takes to draw a year of daily data, in a real browser, on the local server.

``make dashboard``'s server (the real API function, the embedded AWS, sign-in through its Cognito) is started over
an hour of the demo account; a year of day and month roll-ups (every service in each region, as a year of hourly
runs leaves them: ``devtools.period_reads``) is then stored for the first tenant's connection. Headless chromium
signs in as that tenant's user and switches the overview between the last 7 days and the last 365 whole days a few
times; each switch to the year is timed from the choice to the drawn view (its footprint requests, charts and
tables). It prints figures; it is no test.

    python -m devtools.page_reads [--regions us-east-1,eu-west-1,ap-southeast-2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from playwright.sync_api import BrowserContext, Page

from carbonmeter.aws import ClientFactory
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore
from devtools.browser import chromium
from devtools.dashboard import Dashboard, DemoUser, dashboard
from devtools.demo import last_hours
from devtools.period_reads import store_year
from devtools.progress import say

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
YEAR_RANGE, WEEK_RANGE = "365d", "7d"
VIEW_TIMEOUT_MS = 120_000


def _sign_in(site: Dashboard, user: DemoUser, browser: BrowserContext) -> Page:
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site.url)
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    _drawn(page)
    return page


def _drawn(page: Page) -> None:
    page.wait_for_selector("#view[data-ready='overview']", timeout=VIEW_TIMEOUT_MS)


def _switch_seconds(page: Page, range_id: str) -> float:
    started = time.perf_counter()
    page.locator("#range").select_option(range_id)
    # The view marks itself ready once drawn; the mark is emptied as soon as the choice changes.
    page.wait_for_selector("#view[data-ready='']", state="attached", timeout=VIEW_TIMEOUT_MS)
    _drawn(page)
    return time.perf_counter() - started


def year_view_seconds(regions: Sequence[str], repeat: int) -> list[float]:
    """The seconds of each switch of the overview to the last 365 whole days."""
    with dashboard(("eu-west-1",), last_hours(1), port=0) as site:
        user = site.users[0]
        connection_id = user.connection_ids[0]
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=365)
        say(f"storing a year of roll-ups for {connection_id!r} ({len(regions)} regions)...")
        settings = Settings.from_env()
        store_year(
            EmissionStore(ClientFactory(settings=settings), settings.emissions_table),
            start,
            end,
            regions,
            connection_id,
        )
        with chromium() as browser:
            page = _sign_in(site, user, browser)
            timings = []
            for _ in range(repeat):
                timings.append(_switch_seconds(page, YEAR_RANGE))
                _switch_seconds(page, WEEK_RANGE)
            return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.page_reads", description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=lambda text: tuple(text.split(",")), default=REGIONS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    seconds = year_view_seconds(args.regions, args.repeat)
    print("overview of the last 365 whole days, by day: seconds from the choice to the drawn view")
    print("  ".join(f"{value:.2f}" for value in seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
