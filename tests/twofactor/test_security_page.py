"""Account > Security: enrol an app with a QR code and a key, recovery codes shown once,
removing needs a fresh second factor; the organisation switch; the block and its banner; the
members page says who has 2FA."""

import base64
import re
import time

import pyotp
import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import sudo
from tokens import services
from tokens.actors import Actor
from twofactor import policy
from twofactor.models import RecoveryCode

pytestmark = pytest.mark.django_db


def _signed_in(client, user, *, second_factor: bool = False):
    client.force_login(user)
    session = client.session
    session[sudo.SESSION_KEY] = int(time.time())
    if second_factor:
        session[sudo.SECOND_FACTOR_KEY] = int(time.time())
    session.save()
    return client


def _key_on(html: str) -> str:
    return re.search(r"data-totp-key>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")


def test_the_security_page_lists_nothing_for_a_new_account(client, owner):
    html = _signed_in(client, owner).get(reverse("security")).content.decode()
    assert "Two-factor authentication is off" in html
    assert "Set up an authenticator app" in html


def test_enrolling_an_app_shows_a_qr_code_and_the_key_then_the_recovery_codes_once(client, owner):
    _signed_in(client, owner)
    page = client.get(reverse("totp_setup"))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "<script>" not in html
    key = _key_on(html)
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert base64.b32encode(device.bin_key).decode().rstrip("=") == key
    response = client.post(reverse("totp_setup"), {"code": pyotp.TOTP(key).now()})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", response.content.decode())
    assert len(codes) == 10
    stored = " ".join(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert not any(code in stored for code in codes)
    owner.refresh_from_db()
    assert owner.two_factor_enabled
    assert client.session["otp_device_id"]  # the code just typed verified this session
    again = client.get(reverse("security")).content.decode()
    assert "10 of 10 codes left" in again and not any(code in again for code in codes)


def test_a_wrong_code_leaves_the_app_off(client, owner):
    _signed_in(client, owner)
    key = _key_on(client.get(reverse("totp_setup")).content.decode())
    wrong = str((int(pyotp.TOTP(key).now()) + 1) % 1_000_000).zfill(6)
    response = client.post(reverse("totp_setup"), {"code": wrong})
    assert response.status_code == 400 and "That code is not right" in response.content.decode()
    owner.refresh_from_db()
    assert not owner.two_factor_enabled


def test_the_security_page_lists_factors_with_created_and_last_used_in_fixed_queries(
    client, owner, enrol, django_assert_num_queries
):
    enrol(owner)
    _signed_in(client, owner, second_factor=True)
    # session, user, memberships, app, passkeys, recovery set
    with django_assert_num_queries(6):
        html = client.get(reverse("security")).content.decode()
    assert "Two-factor authentication is on" in html and 'data-factor="totp"' in html


def test_removing_a_factor_needs_a_fresh_second_factor(client, owner, enrol):
    enrol(owner)
    device = TOTPDevice.objects.get(user=owner)
    url = reverse("factor_remove", args=["totp", device.pk])
    _signed_in(client, owner)  # a fresh password only
    response = client.post(url)
    assert response["Location"].startswith(reverse("sudo"))
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    _signed_in(client, owner, second_factor=True)
    assert client.post(url)["Location"] == reverse("security")
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    owner.refresh_from_db()
    assert not owner.two_factor_enabled


def test_new_recovery_codes_need_a_fresh_second_factor_and_replace_the_old(client, owner, enrol):
    enrol(owner)
    _signed_in(client, owner)
    assert client.post(reverse("recovery_codes"))["Location"].startswith(reverse("sudo"))
    _signed_in(client, owner, second_factor=True)
    first = client.post(reverse("recovery_codes")).content.decode()
    second = client.post(reverse("recovery_codes")).content.decode()
    pattern = r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>"
    assert set(re.findall(pattern, first)).isdisjoint(re.findall(pattern, second))
    assert RecoveryCode.objects.count() == 10


def test_an_admin_without_2fa_cannot_turn_the_requirement_on(client, org, org_admin):
    _signed_in(client, org_admin)
    response = client.post(reverse("org_two_factor", args=[org.slug]), {"require_two_factor": "on"})
    assert response["Location"] == reverse("org_members", args=[org.slug])
    org.refresh_from_db()
    assert org.two_factor_required_at is None


def test_an_admin_with_2fa_turns_it_on_from_the_members_page(client, org, org_admin, enrol):
    enrol(org_admin)
    _signed_in(client, org_admin, second_factor=True)
    client.post(reverse("org_two_factor", args=[org.slug]), {"require_two_factor": "on"})
    org.refresh_from_db()
    assert org.two_factor_required_at is not None


def test_the_members_page_shows_who_has_2fa(client, org, org_admin, owner, enrol):
    enrol(owner)
    _signed_in(client, org_admin)
    html = client.get(reverse("org_members", args=[org.slug])).content.decode()
    assert html.count('data-two-factor="on"') == 1
    assert html.count('data-two-factor="off"') == 1


def test_a_member_without_2fa_can_do_nothing_in_a_requiring_org_but_enrol(
    client, org, org_admin, owner, enrol
):
    enrol(org_admin)
    token = services.issue_token(
        owner=owner, organization=org, name="sync", scopes=["fleet:read"], actor=Actor.system("t")
    ).token
    policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(org_admin))
    _signed_in(client, owner)
    for url in (
        reverse("org_audit", args=[org.slug]),
        reverse("org_members", args=[org.slug]),
        reverse("token_detail", args=[token.pk]),
        reverse("token_new"),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "requires two-factor authentication" in response.content.decode()
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "data-two-factor-banner" in dashboard
    assert client.get(reverse("security")).status_code == 200
    assert client.get(reverse("totp_setup")).status_code == 200


def test_an_admin_without_2fa_is_kept_out_of_every_admin_page_of_a_requiring_org(
    client, org, org_admin, owner, enrol
):
    # The gate is each organisation view's, so a page added later must call it too: the
    # approval requests, webhooks and API access pages are walked here.
    from accounts.models import Membership

    enrol(org_admin)
    Membership.objects.filter(user=owner, organization=org).update(role=Membership.Role.ADMIN)
    policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(org_admin))
    _signed_in(client, owner)
    for name in ("org_requests", "org_webhooks", "org_api_access", "org_policy", "org_tokens"):
        response = client.get(reverse(name, args=[org.slug]))
        assert response.status_code == 403, name
        assert "requires two-factor authentication" in response.content.decode(), name
