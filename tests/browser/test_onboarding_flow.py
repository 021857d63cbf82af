"""Onboarding a new customer end to end in a real Chromium (issue 15): ops make the
organisation in /admin/, turn the sandbox on and invite its first admin; the admin joins from
the emailed link, creates a sandbox token (qgs_) in the portal and calls the API with it; a
production token (qgp_) gets 403 api_access_not_enabled; the admin presses "Request production
access"; an ops user approves it in /admin/; a production token made in the portal now works.
Screenshots with the prefix i15b-."""

import re

import pytest

from accounts.models import Organization, User
from tests.browser.test_members_flow import (  # noqa: F401 - smtp is a fixture
    confirm_password_if_asked,
    emails_to,
    smtp,
    subjects_to,
    text_of,
)
from tests.browser.test_portal_flows import call_api
from tests.conftest import PASSWORD, make_user
from tests.support.ops import ops_group
from tests.support.worker import wait_for
from tokens import services
from tokens.actors import Actor
from tokens.models import ProductionAccessRequest

pytestmark = pytest.mark.browser

FIRST_ADMIN = "harbourmaster@gdansk.example"
NEW_PASSWORD = "baltic-quay-crane-spreader"
SANDBOX_SECRET = re.compile(r"^qgs_[0-9A-Za-z]{36}$")
PRODUCTION_SECRET = re.compile(r"^qgp_[0-9A-Za-z]{36}$")
INTEGRATION = "Berth planning sync run by our IT team; reads spreaders and alarms hourly."


def see(page, text: str) -> None:
    """Wait (up to the default timeout) until `text` is on the page: after a click the next
    page may still be loading."""
    page.get_by_text(text).first.wait_for(state="visible")


def admin_sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.locator("input[name=username]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def ops_creates_the_organisation(ops, live_server, shoot) -> Organization:
    ops.goto(f"{live_server.url}/admin/portal/organization/add/")
    ops.get_by_label("Name:").fill("Port of Gdansk")
    # The slug fills itself in from the name (admin's prepopulated field).
    ops.locator("input[name=_continue]").click()
    ops.wait_for_url(re.compile(r"/admin/portal/organization/\d+/change/$"))
    organization = Organization.objects.get(slug="port-of-gdansk")
    assert organization.api_access == "none"

    ops.get_by_role("link", name="Change API access and plan…").click()
    ops.get_by_label("Sandbox only").check()
    ops.get_by_label("Reason:").fill("New customer: sandbox trial")
    shoot(ops, "i15b-admin-api-access")
    ops.get_by_role("button", name="Save API access and plan").click()
    see(ops, "Port of Gdansk's API access is now “Sandbox only”")

    ops.get_by_role("link", name="Invite an organisation admin…").click()
    ops.get_by_label("Email:").fill(FIRST_ADMIN)
    ops.get_by_role("button", name="Send invitation").click()
    see(ops, f"Invitation sent to {FIRST_ADMIN}")
    organization.refresh_from_db()
    assert organization.api_access == "sandbox"
    return organization


def join_from_the_invitation(person, live_server, smtp) -> None:  # noqa: F811
    assert wait_for(lambda: emails_to(smtp, FIRST_ADMIN), timeout=10)
    (invitation,) = emails_to(smtp, FIRST_ADMIN)
    links = re.findall(rf"{re.escape(live_server.url)}/invitations/\S+/", text_of(invitation))
    assert len(links) == 1, text_of(invitation)
    person.goto(links[0])
    person.wait_for_url(f"{live_server.url}/invitations/accept/")
    person.get_by_label("Your name").fill("Hanna Harbour")
    person.get_by_label("Choose a password").fill(NEW_PASSWORD)
    person.get_by_label("The password again").fill(NEW_PASSWORD)
    person.get_by_role("button", name="Create account and join").click()
    person.wait_for_url(re.compile(r"/orgs/port-of-gdansk/"))


def create_token(page, name: str, *, kind: str) -> str:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tokens").click()
    page.get_by_role("link", name="New token").first.click()
    if confirm_password_if_asked(page):
        pass  # back on the form, which the sudo page sent us on to
    kind_input = page.locator(f"input[name=kind][value={kind}]")
    kind_input.check()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("7 days").check()
    page.locator("input[value='fleet:read']").check()
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url(re.compile(r"/tokens/\d+/secret/$"))
    return page.locator("#token-secret").input_value()


def test_a_new_customer_is_onboarded_from_sandbox_to_production(
    page,
    phone_page,
    live_server,
    smtp,  # noqa: F811 - the fixture imported above
    shoot,
):
    superuser = make_user("root@quaygate.example", is_staff=True, is_superuser=True)
    approver = make_user("ops@quaygate.example", is_staff=True)
    # The live server's database is flushed between tests, which drops the Ops group its
    # migration made: give it back the two permissions it needs here.
    approver.groups.add(ops_group("view_productionaccessrequest", "change_productionaccessrequest"))
    ops, partner = page, phone_page

    admin_sign_in(ops, live_server, superuser)
    organization = ops_creates_the_organisation(ops, live_server, shoot)
    join_from_the_invitation(partner, live_server, smtp)
    hanna = User.objects.get(email=FIRST_ADMIN)

    # The sandbox: only sandbox tokens are offered, and one works.
    partner.get_by_role("navigation", name="Main").get_by_role("link", name="Tokens").click()
    partner.get_by_role("link", name="New token").first.click()
    confirm_password_if_asked(partner)
    assert partner.locator("input[name=kind][value=production]").count() == 0
    sandbox_secret = create_token(partner, "Sandbox trial", kind="sandbox")
    assert SANDBOX_SECRET.match(sandbox_secret)
    status, body = call_api(live_server, sandbox_secret)
    assert status == 200, body
    assert body["name"] == "Sandbox trial"

    # A production token (prepared by ops on the command line) is refused, and says what to do.
    prepared = services.issue_token(
        owner=hanna,
        organization=organization,
        name="Prepared by ops",
        scopes=["fleet:read"],
        actor=Actor.cli("manage.py issue_token"),
    )
    assert PRODUCTION_SECRET.match(prepared.secret)
    status, body = call_api(live_server, prepared.secret)
    assert status == 403, body
    assert body["code"] == "api_access_not_enabled"
    assert f"{live_server.url}/orgs/port-of-gdansk/api-access/" in body["detail"]

    # The partner asks for production on the organisation's API access page.
    partner.goto(f"{live_server.url}/orgs/port-of-gdansk/api-access/")
    assert partner.get_by_role("heading", name="Partner API access: Sandbox only").is_visible()
    partner.get_by_label("Describe the integration").fill(INTEGRATION)
    shoot(partner, "i15b-phone-request-production")
    partner.get_by_role("button", name="Request production access").click()
    see(partner, "Your request for production access is sent")
    assert partner.locator("#open-request").is_visible()
    shoot(partner, "i15b-phone-request-waiting")
    request = ProductionAccessRequest.objects.get(organization=organization)
    assert wait_for(
        lambda: (
            "Production access requested by Port of Gdansk" in subjects_to(smtp, approver.email)
        ),
        timeout=10,
    )

    # An ops user (the Ops group, not a superuser) approves it in /admin/.
    ops.context.clear_cookies()
    admin_sign_in(ops, live_server, approver)
    ops.goto(f"{live_server.url}/admin/tokens/productionaccessrequest/")
    ops.get_by_role("link", name="Port of Gdansk").click()
    ops.wait_for_url(re.compile(rf"/productionaccessrequest/{request.pk}/change/$"))
    see(ops, INTEGRATION)
    ops.get_by_label("Approve: grant production access").check()
    ops.get_by_label("Reason:").fill("Integration reviewed in the sandbox")
    shoot(ops, "i15b-admin-approve")
    ops.get_by_role("button", name="Save decision").click()
    see(ops, "Approved: Port of Gdansk is now at “Production”")
    granted = "Production access granted to Port of Gdansk"
    assert wait_for(lambda: granted in subjects_to(smtp, FIRST_ADMIN), timeout=10)

    # Production: the portal now offers qgp_ tokens, and a new one works; so does the old one.
    partner.goto(f"{live_server.url}/orgs/port-of-gdansk/api-access/")
    assert partner.get_by_role("heading", name="Partner API access: Production").is_visible()
    production_secret = create_token(partner, "Berth planning sync", kind="production")
    assert PRODUCTION_SECRET.match(production_secret)
    status, body = call_api(live_server, production_secret)
    assert status == 200, body
    assert call_api(live_server, prepared.secret)[0] == 200
    assert call_api(live_server, sandbox_secret)[0] == 200
    partner.get_by_role("navigation", name="Main").get_by_role("link", name="Tokens").click()
    assert partner.locator("[data-kind=sandbox]").count() == 1
    assert partner.locator("[data-kind=production]").count() == 2
    shoot(partner, "i15b-phone-tokens-with-kinds")
