"""The API reference pages in headless Chromium with every other host cut off: they render
under the site's Content-Security-Policy, and Swagger UI calls the API with a pasted token."""

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls run in
# another thread, but Django's async-safety check looks at the calling thread's loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
# ReDoc's "API docs by Redocly" footer always points an <img> at their CDN. Our CSP blocks it
# before any request leaves (the route handler below would report one), and ReDoc hides the
# image when it fails: a console report, not a dependency on the network.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    require(CHROMIUM.exists(), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def offline_page(browser, live_server) -> Iterator:
    """A page that can reach only the live server; every other request is recorded and cut."""
    ours = urlsplit(live_server.url).netloc
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []

    def only_ours(route):
        url = route.request.url
        if urlsplit(url).netloc == ours or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"external request: {url}")
            route.abort()

    page.route("**/*", only_ours)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def csp_violation(message) -> None:
        text = message.text
        blocked = message.type == "error" and "Content Security Policy" in text
        if blocked and REDOCLY_LOGO not in text:
            problems.append(text)

    page.on("console", csp_violation)
    yield page
    context.close()
    assert problems == []


def test_redoc_renders_offline_under_the_csp(offline_page, live_server):
    offline_page.goto(f"{live_server.url}/api/redoc/")

    offline_page.get_by_role("heading", name="Quaygate partner API").first.wait_for()
    offline_page.get_by_role("heading", name="Report leaked tokens").first.wait_for()
    offline_page.get_by_text("application/problem+json").first.wait_for(state="attached")


def test_swagger_ui_calls_the_api_with_a_pasted_token(offline_page, live_server, issue, owner):
    from tests.api.factories import make_terminal

    make_terminal(owner.memberships.first().organization, "EMX")
    secret = issue(owner, scopes=["fleet:read"]).secret
    page = offline_page
    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_role("heading", name="Quaygate partner API").first.wait_for()

    page.locator("button.authorize").first.click()
    page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").first.fill(secret)
    page.locator(".modal-ux button.authorize").first.click()
    page.locator(".modal-ux button.btn-done").first.click()
    page.locator("#operations-Fleet-terminals_list button.opblock-summary-control").click()
    page.locator("#operations-Fleet-terminals_list button.try-out__btn").click()
    page.locator("#operations-Fleet-terminals_list button.execute").click()

    live = page.locator("#operations-Fleet-terminals_list .live-responses-table tr.response")
    live.first.wait_for()
    assert live.first.locator("td.response-col_status").inner_text().strip() == "200"
    assert '"EMX"' in live.first.locator(".microlight").first.inner_text()
