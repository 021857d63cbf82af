"""Browser tests: Debian's headless Chromium driven by Playwright against pytest-django's
live_server (a thread of this process). Screenshots go to test-artifacts/screenshots/."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, require

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls run in
# another thread, but Django's async-safety check looks at the calling thread's loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# Package scope: closed when this folder's tests end, so another folder's Playwright (the API
# docs test) can start its own whichever order pytest runs them in.
@pytest.fixture(scope="package")
def browser() -> Iterator:
    require(CHROMIUM.exists(), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _new_page(browser, request, viewport):
    context = browser.new_context(viewport=viewport, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    # A page error (CSP violation, broken script) fails the test: the pages must run clean.
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return context, page, errors


def _finish(request, page, errors, context) -> None:
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"errors in the browser: {errors}"


@pytest.fixture
def page(browser, request, live_server) -> Iterator:
    context, page, errors = _new_page(browser, request, DESKTOP)
    yield page
    _finish(request, page, errors, context)


@pytest.fixture
def phone_page(browser, request, live_server) -> Iterator:
    context, page, errors = _new_page(browser, request, PHONE)
    yield page
    _finish(request, page, errors, context)


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def shoot() -> Callable[[object, str], None]:
    """shoot(page, name): a full-page screenshot saved as test-artifacts/screenshots/<name>.png."""
    return _shoot


@pytest.fixture
def sign_in(live_server) -> Callable[[object, object], None]:
    """sign_in(page, user): through the sign-in form, as a person does; lands on the dashboard."""

    def _sign_in(page, user) -> None:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")

    return _sign_in
