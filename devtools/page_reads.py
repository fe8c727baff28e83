"""How long the web page takes to draw a year of daily data, in a real browser, on the local server.

``make dashboard``'s server (the real API function, the embedded AWS, sign-in through its Cognito) is started over
an hour of the demo account; a year of day and month roll-ups (every service in each region, as a year of hourly
runs leaves them: ``devtools.period_reads``) is then stored for the first tenant's connection. Headless chromium
signs in as that tenant's user and switches the overview between the last 7 days and the last 365 whole days a few
times; each switch to the year is timed from the choice to the drawn view (its footprint requests, charts and
tables), and split into the first view's requests and the page's own work. It prints figures; it is no test.

    python -m devtools.page_reads [--regions us-east-1,eu-west-1,ap-southeast-2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page

from carbonmeter.aws import ClientFactory
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore
from devtools.browser import VIEW_TIMEOUT_MS, chromium, sign_in, wait_for_view
from devtools.dashboard import dashboard
from devtools.demo import last_hours
from devtools.period_reads import store_year
from devtools.progress import say

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
YEAR_RANGE, WEEK_RANGE = "365d", "7d"


@dataclass(frozen=True)
class Switch:
    """One switch of the overview: from the choice to its first view (totals, charts, breakdowns) and to the whole
    view (the top resources follow the first), and of the first the time its requests took (from the browser's
    resource timing: the first sent to the last byte received); the rest is the page's own work."""

    first_view_seconds: float
    seconds: float
    request_seconds: float

    @property
    def page_seconds(self) -> float:
        return self.first_view_seconds - self.request_seconds


# The first view's two requests, sent together: the footprint by region and the services' breakdown (the top
# resources follow them).
_FIRST_VIEW_REQUESTS = """() => performance.getEntriesByType("resource")
  .filter((entry) => entry.name.includes("/breakdown?")
    || (entry.name.includes("/footprint?") && entry.name.includes("group_by=region")))
  .map((entry) => [entry.startTime, entry.responseEnd])"""


def _switch(page: Page, range_id: str) -> Switch:
    page.evaluate("() => performance.clearResourceTimings()")
    started = time.perf_counter()
    page.locator("#range").select_option(range_id)
    # The view marks its first view shown, then itself ready; both marks are emptied as soon as the choice changes.
    page.wait_for_selector("#view[data-ready='']", state="attached", timeout=VIEW_TIMEOUT_MS)
    page.wait_for_selector("#view[data-shown='overview']", state="attached", timeout=VIEW_TIMEOUT_MS)
    first = time.perf_counter() - started
    wait_for_view(page, "overview")
    seconds = time.perf_counter() - started
    spans = page.evaluate(_FIRST_VIEW_REQUESTS)
    # From the first sent to the last answered: they run side by side.
    waited = (max(end for _, end in spans) - min(start for start, _ in spans)) / 1000 if spans else 0.0
    return Switch(first_view_seconds=first, seconds=seconds, request_seconds=waited)


def year_view_switches(regions: Sequence[str], repeat: int) -> list[Switch]:
    """Each switch of the overview to the last 365 whole days."""
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
            page = sign_in(browser, site, user)
            timings = []
            for _ in range(repeat):
                timings.append(_switch(page, YEAR_RANGE))
                _switch(page, WEEK_RANGE)
            return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.page_reads", description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=lambda text: tuple(text.split(",")), default=REGIONS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    switches = year_view_switches(args.regions, args.repeat)
    print("overview of the last 365 whole days, by day: seconds from the choice to the drawn view")
    print("switch  first view  its requests  the page's own work  with the top resources")
    for number, switch in enumerate(switches, 1):
        print(
            f"{number:>6}  {switch.first_view_seconds:10.2f}  {switch.request_seconds:12.2f}"
            f"  {switch.page_seconds:19.2f}  {switch.seconds:22.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
