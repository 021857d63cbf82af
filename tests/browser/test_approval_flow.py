"""Issue 17 in a real Chromium: an admin turns approval on, a member requests a write token with
a justification, the API refuses it (403 token_pending_approval), the admin approves it under
Requests, and the member's token works."""

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import DESKTOP, _finish, _new_page
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy

pytestmark = pytest.mark.browser

WHY = "The SAP connector acknowledges alarms for berth 4."


def call_api(live_server, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the live server on loopback
        f"{live_server.url}/api/v1/token", headers={"Authorization": f"Bearer {secret}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def second_page(browser, request, live_server):
    """Another person's browser (its own cookies) beside `page`."""
    context, page, errors = _new_page(browser, request, DESKTOP)
    yield page
    _finish(request, page, errors, context)


def test_a_member_requests_a_write_token_and_an_admin_approves_it(
    page, second_page, live_server, org, org_admin, member, sign_in, shoot
):
    # The admin asks for approval of write tokens.
    sign_in(page, org_admin)
    page.goto(f"{live_server.url}/orgs/{org.slug}/policy/")
    page.get_by_label("Tokens with a write scope need an admin's approval").check()
    shoot(page, "i17a-policy-approval")
    page.get_by_role("button", name="Save policy").click()
    page.wait_for_url(re.compile(rf"/orgs/{org.slug}/tokens/$"))
    assert TokenPolicy.objects.get(organization=org).require_approval == "write"

    # The member is told before submitting, and justifies the token.
    sign_in(second_page, member)
    second_page.get_by_role("link", name="New token").first.click()
    assert second_page.get_by_text(
        "requires an admin's approval for tokens with a write"
    ).is_visible()
    second_page.get_by_label("Name", exact=True).fill("SAP connector")
    second_page.get_by_label("30 days").check()
    second_page.locator("input[value='alarms:write']").check()
    second_page.get_by_label("Justification").fill(WHY)
    shoot(second_page, "i17a-new-token-justification")
    second_page.get_by_role("button", name="Create token").click()
    second_page.wait_for_url(re.compile(r"/tokens/\d+/secret/$"))
    assert second_page.get_by_text("Pending approval: this token does not work yet").is_visible()
    shoot(second_page, "i17a-pending-secret")
    secret = second_page.locator("#token-secret").input_value()

    status, body = call_api(live_server, secret)
    assert (status, body.get("code")) == (403, "token_pending_approval"), body

    # The admin sees the request, with a count on the tab, and approves it.
    page.reload()
    tab = page.get_by_role("navigation", name="Organisation").get_by_role("link", name="Requests")
    assert tab.locator(".tab-count").inner_text() == "1"
    tab.click()
    row = page.locator("tr[data-request]")
    assert member.email in row.inner_text() and WHY in row.inner_text()
    assert "alarms:write" in row.inner_text()
    shoot(page, "i17a-requests-tab")
    row.get_by_label(f"Note for {member.email}").fill("OK for berth 4")
    row.get_by_role("button", name=re.compile("^Approve")).click()
    assert page.get_by_text("Approved “SAP connector”").is_visible()
    assert page.get_by_text("No token is waiting for approval").is_visible()
    shoot(page, "i17a-request-approved")

    status, body = call_api(live_server, secret)
    assert status == 200, body
    token = PersonalAccessToken.objects.get(name="SAP connector")
    assert token.approval == "approved" and token.approval_decided_by == org_admin
    assert AuditEvent.objects.filter(action="token.approved", token=token).exists()

    # The member's page no longer says pending.
    second_page.get_by_role("link", name="I have copied it").click()
    assert second_page.get_by_text("Approved").first.is_visible()
    assert second_page.locator(".page-head .badge").inner_text().strip().endswith("Active")
    shoot(second_page, "i17a-token-approved")
