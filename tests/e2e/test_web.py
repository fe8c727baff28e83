"""The web page in a real browser (Debian's chromium, headless, through Playwright) against ``make dashboard``'s
server: the real API handler over a local CarbonMeter with two tenants, sign-in through the embedded Cognito.

Screenshots of every view at both widths go to ``.build/screenshots/``.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from carbonmeter.models import HOUR, hour_key
from devtools.dashboard import Dashboard, dashboard
from devtools.demo import last_hours
from infra.constants import REPO_ROOT
from tests.support.browser import chromium, sign_in, wait_for_view
from tests.support.dashboard import (
    api_get,
    id_token,
    page_query,
    resigned,
    shown_figure,
    user_of,
)

# A short demo keeps the module fast: one region, a few hours more than the shortest range the page offers.
REGIONS = ("eu-west-1",)
HOURS = 8
# The day ranges end at midnight UTC, so the demo reaches back into yesterday whatever the time of day.
HOURS_BEFORE_MIDNIGHT = 2
SCREENSHOTS = REPO_ROOT / ".build" / "screenshots"
VIEWS = ("overview", "health", "cost", "insights", "reconciliation")
WIDTHS = (1280, 390)
ACME, GLOBEX = "acme", "globex"


@pytest.fixture(scope="module")
def site() -> Iterator[Dashboard]:
    with dashboard(REGIONS, seeded_hours(), port=0) as running:
        yield running


def seeded_hours() -> list[datetime]:
    """The latest ``HOURS`` hours, or more where they all fall today: from two hours before midnight."""
    latest = last_hours(HOURS)
    midnight = latest[-1].replace(hour=0)
    first = min(latest[0], midnight - HOURS_BEFORE_MIDNIGHT * HOUR)
    return last_hours(int((latest[-1] - first) / HOUR) + 1)


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


@pytest.fixture
def alice(browser: BrowserContext, site: Dashboard) -> Iterator[Page]:
    page = sign_in(browser, site, user_of(site, ACME))
    yield page
    page.close()


def footprint_of(site: Dashboard, token: str, query: dict[str, str]) -> dict:
    connection = query.pop("connection")
    answer = api_get(site, token, f"/connections/{connection}/footprint", query)
    assert answer.status == 200, answer.body
    return answer.json()


def test_a_signed_in_user_sees_the_overview_of_their_connection(alice: Page) -> None:
    assert alice.get_by_role("heading", name="Totals").is_visible()
    assert alice.locator("#connection").input_value() == "demo"
    assert alice.get_by_role("heading", name="By service").is_visible()
    assert alice.get_by_role("heading", name="Top resources").is_visible()
    assert "km driven" in alice.locator(".equivalent").inner_text()


def test_the_charts_are_drawn(alice: Page) -> None:
    canvases = alice.locator(".chart canvas")
    assert canvases.count() == 2
    for index in range(canvases.count()):
        coloured = canvases.nth(index).evaluate(
            """canvas => {
                const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
                let count = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
                return count;
            }"""
        )
        # Axes, grid, the line and the band: far more than a blank canvas's none.
        assert coloured > 2000


def test_the_totals_on_the_page_equal_the_apis_to_the_precision_shown(alice: Page, site: Dashboard) -> None:
    api = footprint_of(site, id_token(site, user_of(site, ACME)), page_query(alice, "overview"))
    for name in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e"):
        for part in ("central", "low", "high"):
            shown, precision = shown_figure(alice.locator(f"[data-figure='{name}'] [data-part='{part}']").inner_text())
            assert abs(shown - api["totals"][name][part]) <= precision * 1.0001, (name, part)
    assert api["totals"]["operational_kgco2e"]["central"] > 0


def test_the_band_runs_from_low_to_high(alice: Page, site: Dashboard) -> None:
    api = footprint_of(site, id_token(site, user_of(site, ACME)), page_query(alice, "overview"))
    expected: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for point in api["series"]:
        at = _epoch(point["period_start"])
        for i, part in enumerate(("central", "low", "high")):
            expected[at][i] += point["operational_kgco2e"][part] + point["embodied_kgco2e"][part]
    chart = alice.evaluate(
        """() => { const c = window.carbonmeter.charts.co2;
                   return { data: c.plot.data, labels: c.labels, bands: c.bands.map(b => b.series) }; }"""
    )
    assert chart["labels"][2:] == ["low", "high"]
    assert chart["bands"] == [[3, 2]]  # the band fills between the high and the low series
    drawn = {
        t: (central, low, high) for t, central, low, high in zip(*chart["data"], strict=True) if central is not None
    }
    assert set(drawn) == set(expected)
    for at, (central, low, high) in drawn.items():
        assert [central, low, high] == pytest.approx(expected[at], rel=1e-9)
        assert low <= central <= high


def test_switching_the_range_changes_the_figures(alice: Page) -> None:
    before = alice.locator("[data-figure='total_kgco2e'] [data-part='central']").inner_text()
    alice.locator("#range").select_option("6h")
    wait_for_view(alice, "overview")
    after = alice.locator("[data-figure='total_kgco2e'] [data-part='central']").inner_text()
    assert page_query(alice, "overview")["granularity"] == "hour"
    assert after != before


def test_the_overview_asks_for_the_whole_range_at_once_not_per_point(alice: Page) -> None:
    asked: list[str] = []
    alice.on("request", lambda request: asked.append(request.url))
    alice.locator("#range").select_option("30d")
    wait_for_view(alice, "overview")
    footprints = [url for url in asked if "/footprint?" in url]
    breakdowns = [url for url in asked if "/breakdown?" in url]
    tops = [url for url in asked if "/top?" in url]
    # The totals, charts and regions (30 points each) and the services whole; the top resources of the whole range.
    assert (len(footprints), len(breakdowns), len(tops)) == (1, 1, 1)
    assert page_query(alice, "overview")["granularity"] == "day"


def test_the_overview_lists_the_top_resources_of_the_whole_range_as_the_api_ranks_them(alice: Page, site: Dashboard):
    alice.locator("#range").select_option("30d")
    wait_for_view(alice, "overview")
    query = page_query(alice, "top")
    connection = query.pop("connection")
    assert (query["start"], query["end"]) == (
        page_query(alice, "overview")["start"],
        page_query(alice, "overview")["end"],
    )
    answer = api_get(site, id_token(site, user_of(site, ACME)), f"/connections/{connection}/top", query)
    assert answer.status == 200, answer.body
    api = answer.json()
    # The names, in the API's order, and its whole range stated plainly
    table = alice.locator(".table-wrap[aria-label='Top resources']")
    shown = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    expected = [f"{r['service']}/{r['region']}/{r['resource_id']}" for r in api["resources"]]
    assert shown == expected
    assert 0 < len(shown) <= 10
    note = alice.locator("#top-range").inner_text()
    assert note.startswith(
        f"The 10 that emitted the most from {_hour_text(query['start'])} to {_hour_text(query['end'])}"
    )
    # And a rank the API is not certain of is marked, with the page saying the ranks are approximate
    marked = table.locator("tbody tr td:first-child").all_inner_texts()
    assert marked == [("" if r["rank_certain"] else "≈") + str(r["rank"]) for r in api["resources"]]
    assert alice.locator("[data-top='approximate']").count() == (0 if api["exact"] else 1) + (
        1 if api["hours_unknown"] else 0
    )


def _hour_text(iso: str) -> str:
    return iso.replace("T", " ").replace(":00Z", " UTC")


def test_a_user_of_another_tenant_sees_none_of_its_connections(browser: BrowserContext, site: Dashboard) -> None:
    bob = user_of(site, GLOBEX)
    acme_connections = user_of(site, ACME).connection_ids
    asked: list[str] = []
    page = sign_in(browser, site, bob, on_request=asked.append)
    try:
        for view in VIEWS:
            page.goto(f"{site.url}/#{view}")
            wait_for_view(page, view)
            assert page.locator("#connection option").all_inner_texts() == bob.connection_ids, view
        listed = page.evaluate("window.carbonmeter.connections.map(c => c.connection_id)")
    finally:
        page.close()
    assert listed == bob.connection_ids
    # Every figure the page asked for was of bob's own connections.
    named = {url.split("/connections/")[1].split("/")[0].split("?")[0] for url in asked if "/connections/" in url}
    assert named == set(bob.connection_ids)
    token = id_token(site, bob)
    answer = api_get(site, token, "/connections").json()
    assert [c["connection_id"] for c in answer["connections"]] == bob.connection_ids
    window = last_hour()
    for connection in acme_connections:
        for what, query in (("", None), ("/footprint", window), ("/status", window)):
            other = api_get(site, token, f"/connections/{connection}{what}", query)
            missing = api_get(site, token, f"/connections/no-such{what}", query)
            assert other.status == missing.status == 404, what
            assert other.json()["message"].replace(connection, "X") == missing.json()["message"].replace("no-such", "X")


def last_hour() -> dict[str, str]:
    """A valid hour-by-hour range: the hour before the current one."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {"start": hour_key(end - HOUR), "end": hour_key(end), "granularity": "hour"}


def test_the_api_refuses_a_request_without_a_valid_token(site: Dashboard) -> None:
    token = id_token(site, user_of(site, ACME))
    assert api_get(site, resigned(token), "/connections").status == 200  # re-signed as it was: still valid
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = (
        None,
        "not-a-token",
        forged,
        resigned(token, exp=int(time.time()) - 60),
        resigned(token, aud="another-client"),
        resigned(token, iss="https://cognito-idp.us-east-1.amazonaws.com/another-pool"),
        resigned(token, token_use="access"),
    )
    for sent in refused:
        assert api_get(site, sent, "/connections").status == 401


def test_the_csv_download_equals_the_export(alice: Page, site: Dashboard) -> None:
    with alice.expect_download() as started:
        alice.get_by_role("button", name="Download CSV").click()
    downloaded = Path(started.value.path()).read_bytes()
    query = page_query(alice, "overview-export")
    connection = query.pop("connection")
    export = api_get(site, id_token(site, user_of(site, ACME)), f"/connections/{connection}/export", query)
    assert export.status == 200
    assert downloaded == export.body
    assert downloaded.count(b"\n") > 1


def test_the_page_is_usable_from_the_keyboard(browser: BrowserContext, site: Dashboard) -> None:
    alice = user_of(site, ACME)
    page = browser.new_page()
    try:
        page.goto(site.url)
        page.wait_for_selector("#username")
        # The page puts the focus in the form, whose fields Tab then follows in reading order; Enter submits it.
        active = "document.activeElement.id"
        focused = [page.evaluate(active)]
        for _ in range(2):
            page.keyboard.press("Tab")
            focused.append(page.evaluate(active))
        assert focused == ["username", "password", "sign-in-button"]
        page.focus("#username")
        page.keyboard.type(alice.username)
        page.keyboard.press("Tab")
        page.keyboard.type(alice.password)
        page.keyboard.press("Enter")
        wait_for_view(page, "overview")
        # A view's tab is a link: focused and followed with Enter, and its focus ring shows.
        tab = page.get_by_role("link", name="Connection health")
        tab.focus()
        assert tab.evaluate("element => getComputedStyle(element).outlineStyle") != "none"
        page.keyboard.press("Enter")
        wait_for_view(page, "health")
        assert page.get_by_role("link", name="Connection health").get_attribute("aria-current") == "page"
    finally:
        page.close()


def test_the_health_view_shows_what_collecting_costs_the_customers_account(alice: Page, site: Dashboard) -> None:
    # Given alice's connection, collected completely, as the API gives it
    connection = user_of(site, ACME).connection_ids[0]
    api = api_get(site, id_token(site, user_of(site, ACME)), f"/connections/{connection}").json()["monitoring"]
    assert api["usd_per_month"] > 0
    # When she opens its health
    alice.goto(f"{site.url}/#health")
    wait_for_view(alice, "health")
    shown = alice.locator("dt:text-is('Monitoring cost') + dd").inner_text()
    # Then the page gives the API's monthly cost to the cent, its metrics, and whose bill it lands on
    assert f"USD {api['usd_per_month']:.2f} a month" in shown
    assert f"{api['metrics_per_collection']:,} metrics a collection" in shown
    assert "billed to the customer's account" in shown


@pytest.mark.parametrize("width", WIDTHS)
def test_every_view_draws_at_both_widths(browser: BrowserContext, site: Dashboard, width: int) -> None:
    page = sign_in(browser, site, user_of(site, ACME), width=width)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for view in VIEWS:
            page.goto(f"{site.url}/#{view}")
            wait_for_view(page, view)
            # Nothing wider than the window: no sideways scrolling of the page itself.
            assert page.evaluate("document.documentElement.scrollWidth") <= width, view
            page.screenshot(path=SCREENSHOTS / f"{view}-{width}.png", full_page=True)
    finally:
        page.close()


def _epoch(iso: str) -> float:
    return math.floor(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def test_the_api_reference_shows_the_routes_and_tries_one_as_the_signed_in_user(alice: Page, site: Dashboard) -> None:
    # Given alice signed in on the page, when she follows the link to the API reference
    errors: list[str] = []
    alice.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    alice.get_by_role("link", name="API reference").click()
    # Then Swagger UI lists the API's routes, drawn under its own policy without a refused script or style
    footprint = alice.locator(".opblock-summary-path", has_text="/api/v1/connections/{connection_id}/footprint")
    footprint.first.wait_for()
    assert not [text for text in errors if "Content Security Policy" in text], errors
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.screenshot(path=SCREENSHOTS / "api-reference-1280.png")
    # And "Try it out" calls the API with her token: her own connection comes back
    listing = alice.locator(".opblock-get", has=alice.locator(".opblock-summary-path", has_text=r"/api/v1/connections"))
    first = listing.filter(has_not_text="{connection_id}").first
    first.locator(".opblock-summary").click()
    first.get_by_role("button", name="Execute").click()
    # The server's answer, not the documented responses below it
    live = first.locator(".live-responses-table")
    live.wait_for()
    assert live.locator("tr.response .response-col_status").first.inner_text().strip() == "200"
    assert f'"connection_id": "{user_of(site, ACME).connection_ids[0]}"' in live.inner_text()
    alice.screenshot(path=SCREENSHOTS / "api-reference-tried-1280.png")


def test_the_api_reference_shows_nothing_of_the_api_without_a_session(browser: BrowserContext, site: Dashboard) -> None:
    page = browser.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    try:
        page.goto(f"{site.url}/api-docs/index.html")
        status = page.locator("#docs-status")
        status.filter(has_text="Sign in on the page first").wait_for()
        assert page.locator(".opblock").count() == 0
        assert not [url for url in asked if "/api/v1/" in url]
    finally:
        page.close()
