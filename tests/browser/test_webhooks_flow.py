"""Webhooks in a real Chromium: an admin adds an endpoint pointing at a real receiver on
loopback, copies the secret shown once, sends a test event, and sees the receiver's answer in
the deliveries list; the receiver verified the signature with the secret the page showed."""

from collections.abc import Iterator

import pytest

from tests.support.receiver import Receiver

pytestmark = pytest.mark.browser


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def test_an_admin_adds_an_endpoint_and_sends_it_a_test_event(
    page, live_server, org_admin, org, sign_in, shoot, receiver
):
    sign_in(page, org_admin)
    page.goto(f"{live_server.url}/orgs/{org.slug}/webhooks/")
    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("Endpoint URL").fill("ftp://example.com/")
    page.get_by_role("button", name="Add endpoint").click()
    assert page.get_by_text("Enter an https:// URL.").is_visible()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Description").fill("Our SIEM")
    page.get_by_label("audit.*").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#webhook-secret").input_value()
    assert secret.startswith("whsec_")
    shoot(page, "i18a-webhook-secret")
    receiver.secret = secret
    page.get_by_role("link", name="I have copied it").click()
    assert secret not in page.content()
    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("A test event is on its way").wait_for()
    page.reload()
    assert page.locator("table.deliveries").get_by_text("HTTP 204").first.is_visible()
    shoot(page, "i18a-webhook-detail")
    assert [r["json"]["type"] for r in receiver.verified()][-1] == "webhook.test"
    page.goto(f"{live_server.url}/orgs/{org.slug}/webhooks/")
    assert page.get_by_text("Our SIEM").is_visible()
    shoot(page, "i18a-webhooks")
