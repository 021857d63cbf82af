"""Two-factor authentication in a real Chromium: enrol an authenticator app from the QR page's
key (pyotp computes the codes, as a phone would), sign out, sign in with a code; register a
passkey with Chromium's virtual authenticator (CDP WebAuthn domain) and sign in with it; a
recovery code works once; an organisation's requirement blocks a member without 2FA."""

import re
import time

import pyotp
import pytest

from tests.conftest import PASSWORD
from tokens.actors import Actor
from tokens.models import AuditEvent
from twofactor import policy
from twofactor.models import PasskeyDevice

pytestmark = pytest.mark.browser


def password_step(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/login/two-factor/")


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/|/$"))


def virtual_authenticator(page) -> None:
    """A platform authenticator with a resident key and user verification, always approving."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def test_enrol_an_app_sign_out_and_sign_in_with_its_code(
    page, live_server, owner, org, sign_in, shoot
):
    sign_in(page, owner)
    page.goto(f"{live_server.url}/account/security/")
    shoot(page, "i16-security-page-off")
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url(f"{live_server.url}/account/security/app/")
    assert page.locator("[data-qr] svg").is_visible()
    key = page.locator("[data-totp-key]").inner_text().replace(" ", "")
    app = pyotp.TOTP(key)
    shoot(page, "i16-totp-setup")
    page.get_by_label("Code from your app").fill(app.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(codes) == 10
    shoot(page, "i16-recovery-codes")
    page.get_by_role("link", name="I have saved them").click()
    assert page.get_by_text("Two-factor authentication is on.").is_visible()
    shoot(page, "i16-security-page")

    sign_out(page)
    password_step(page, live_server, owner)
    shoot(page, "i16-second-step")
    page.get_by_label("Authentication code").fill(app.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Your tokens").is_visible()

    # A recovery code works once, then never again.
    sign_out(page)
    password_step(page, live_server, owner)
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")
    sign_out(page)
    password_step(page, live_server, owner)
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    assert page.get_by_text("That code is not right").is_visible()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECOVERY_CODE_USED).count() == 1


def test_register_a_passkey_and_sign_in_with_it(page, live_server, owner, org, sign_in, shoot):
    virtual_authenticator(page)
    sign_in(page, owner)
    page.goto(f"{live_server.url}/account/security/")
    page.get_by_label("Name of the new passkey").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{live_server.url}/account/security/recovery-codes/")
    device = PasskeyDevice.objects.get(user=owner)
    assert device.name == "Test laptop"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSKEY_ADDED).exists()
    page.get_by_role("button", name="Make new codes").click()
    assert len(page.locator("[data-recovery-codes] code").all_inner_texts()) == 10
    page.goto(f"{live_server.url}/account/security/")
    assert page.locator("[data-factor='passkeys']").get_by_text("Test laptop").is_visible()
    shoot(page, "i16-security-page-passkey")

    sign_out(page)
    password_step(page, live_server, owner)
    shoot(page, "i16-second-step-passkey")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Your tokens").is_visible()
    device.refresh_from_db()
    assert device.last_used_at is not None


def test_a_member_without_2fa_is_blocked_by_the_policy_and_sees_the_banner(
    page, live_server, owner, org, org_admin, enrol, sign_in, shoot
):
    enrol(org_admin)
    policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(org_admin))
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/account/security/")
    assert page.locator("[data-two-factor-banner]").is_visible()
    shoot(page, "i16-policy-banner")
    response = page.goto(f"{live_server.url}/orgs/{org.slug}/audit/")
    assert response.status == 403
    assert page.get_by_role(
        "heading", name="Port of Rotterdam requires two-factor authentication"
    ).is_visible()
    shoot(page, "i16-policy-blocked")
    page.get_by_role("link", name="Set up two-factor authentication").first.click()
    page.wait_for_url(f"{live_server.url}/account/security/")
