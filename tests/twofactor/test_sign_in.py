"""Signing in with a second factor: the password alone signs nobody in, then an app code or a
recovery code (once) does; the second step is limited like the first; sudo mode asks for the
second factor instead of the password."""

import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from portal import second_step, sudo
from tests.conftest import PASSWORD
from tokens.actors import Actor
from tokens.models import AuditEvent
from twofactor import services as two_factor

pytestmark = pytest.mark.django_db


def _password(client: Client, user, **extra):
    return client.post(reverse("login"), {"username": user.email, "password": PASSWORD}, **extra)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_right_password_of_an_account_with_2fa_signs_nobody_in(client, owner, enrol):
    enrol(owner)
    response = _password(client, owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("login_second_step")
    assert not _signed_in(client)
    assert client.session[second_step.PENDING_KEY]["user"] == owner.pk
    assert client.get(reverse("dashboard")).status_code == 302  # still signed out
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN).exists()


def test_the_app_code_signs_in_and_verifies_the_session(client, owner, enrol, next_code):
    app = enrol(owner)
    _password(client, owner)
    page = client.get(reverse("login_second_step"))
    assert page.status_code == 200 and owner.email in page.content.decode()
    response = client.post(reverse("login_second_step"), {"code": next_code(app)})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert _signed_in(client)
    assert client.session["otp_device_id"].startswith("otp_totp.totpdevice/")
    assert second_step.PENDING_KEY not in client.session
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN).exists()


def test_the_second_step_keeps_the_next_page(client, owner, enrol, next_code):
    app = enrol(owner)
    client.post(
        f"{reverse('login')}?next=/account/",
        {"username": owner.email, "password": PASSWORD, "next": "/account/"},
    )
    response = client.post(reverse("login_second_step"), {"code": next_code(app)})
    assert response["Location"] == "/account/"


def test_a_wrong_code_is_refused_and_counted(client, owner, enrol, next_code):
    app = enrol(owner)
    _password(client, owner)
    wrong = str((int(next_code(app)) + 1) % 1_000_000).zfill(6)
    response = client.post(reverse("login_second_step"), {"code": wrong})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert not _signed_in(client)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN_FAILED).exists()


def test_the_second_step_is_limited_per_account(owner, enrol, next_code):
    app = enrol(owner)
    for number in range(10):
        client = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        _password(client, owner)
        assert client.post(reverse("login_second_step"), {"code": "000000"}).status_code == 400
    client = Client(REMOTE_ADDR="198.51.100.99")
    _password(client, owner)
    response = client.post(reverse("login_second_step"), {"code": next_code(app)})
    assert response.status_code == 429  # even the right code waits
    assert "Too many wrong codes" in response.content.decode()
    assert not _signed_in(client)


def test_the_second_step_is_limited_per_address(owner, member, org, enrol):
    enrol(owner)
    people = [owner]
    client = Client(REMOTE_ADDR="192.0.2.7")
    for _ in range(30):
        _password(client, people[0])
        client.post(reverse("login_second_step"), {"code": "000000"})
    _password(client, owner)
    assert client.post(reverse("login_second_step"), {"code": "000000"}).status_code == 429


def test_the_half_signed_in_state_lasts_five_minutes(client, owner, enrol):
    app = enrol(owner)
    with time_machine.travel(time.time(), tick=False) as traveller:
        _password(client, owner)
        traveller.shift(5 * 60 + 1)
        response = client.post(reverse("login_second_step"), {"code": app.at(time.time() + 30)})
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert not _signed_in(client)


def test_a_recovery_code_signs_in_once_then_never_again(owner, enrol):
    enrol(owner)
    codes = two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))
    first = Client()
    _password(first, owner)
    assert first.post(reverse("login_second_step"), {"code": codes[0]}).status_code == 302
    assert _signed_in(first)
    again = Client()
    _password(again, owner)
    response = again.post(reverse("login_second_step"), {"code": codes[0]})
    assert response.status_code == 400 and not _signed_in(again)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECOVERY_CODE_USED).count() == 1


def test_sudo_asks_a_person_with_2fa_for_the_second_factor_not_the_password(
    client, owner, org, enrol, next_code
):
    app = enrol(owner)
    client.force_login(owner)
    session = client.session
    session[sudo.SESSION_KEY] = int(time.time())  # a fresh password is not enough
    session.save()
    assert client.get(reverse("token_new"))["Location"].startswith(reverse("sudo"))
    page = client.get(reverse("sudo"), {"next": reverse("token_new")})
    assert "Authentication code" in page.content.decode()
    refused = client.post(reverse("sudo"), {"password": PASSWORD, "next": reverse("token_new")})
    assert refused.status_code == 400
    done = client.post(reverse("sudo"), {"code": next_code(app), "next": reverse("token_new")})
    assert done["Location"] == reverse("token_new")
    assert client.get(reverse("token_new")).status_code == 200


def test_a_person_without_2fa_confirms_sudo_with_the_password_as_before(client, owner, org):
    client.force_login(owner)
    response = client.post(reverse("sudo"), {"password": PASSWORD, "next": reverse("token_new")})
    assert response["Location"] == reverse("token_new")


def test_the_sign_in_sends_a_member_of_a_requiring_org_to_enrol(
    client, owner, org, org_admin, enrol
):
    from twofactor import policy

    enrol(org_admin)
    policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(org_admin))
    response = _password(client, owner)
    assert response["Location"] == reverse("security")
    page = client.get(reverse("security"))
    assert "Port of Rotterdam requires two-factor authentication" in page.content.decode()
