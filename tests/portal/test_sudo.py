"""Sudo mode: creating, regenerating and the policy need a password typed in the last 10 minutes."""

import time

import pytest
import time_machine
from django.urls import reverse

from portal import sudo
from tests.conftest import PASSWORD
from tokens.models import PersonalAccessToken

pytestmark = pytest.mark.django_db


def test_signing_in_starts_a_sudo_window(client, owner):
    client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})
    assert client.get(reverse("token_new")).status_code == 200


def test_a_stale_password_sends_the_new_token_page_to_confirmation_first(
    client, owner, org, sign_in
):
    sign_in(client, owner, fresh_password=False)
    response = client.get(reverse("token_new"))
    assert response.status_code == 302
    assert response["Location"] == sudo.confirm_url(reverse("token_new"))


def test_a_stale_post_creates_nothing(client, owner, org, sign_in, new_token_data):
    sign_in(client, owner, fresh_password=False)
    response = client.post(reverse("token_new"), new_token_data())
    assert response["Location"].startswith(reverse("sudo"))
    assert not PersonalAccessToken.objects.exists()


def test_the_window_closes_after_ten_minutes(client, owner, org, sign_in):
    with time_machine.travel(time.time(), tick=False) as traveller:
        sign_in(client, owner)
        traveller.shift(9 * 60)
        assert client.get(reverse("token_new")).status_code == 200
        traveller.shift(2 * 60)
        assert client.get(reverse("token_new")).status_code == 302


def test_regenerating_needs_a_recent_password(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner, fresh_password=False)
    response = client.post(reverse("token_regenerate", args=[token.pk]), {"overlap_hours": "0"})
    assert response["Location"].startswith(reverse("sudo"))
    assert token.secrets.count() == 1


def test_revoking_does_not_need_a_recent_password(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner, fresh_password=False)
    client.post(reverse("token_revoke", args=[token.pk]), {})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_confirming_the_password_returns_to_the_page(client, owner, org, sign_in):
    sign_in(client, owner, fresh_password=False)
    response = client.post(reverse("sudo"), {"password": PASSWORD, "next": reverse("token_new")})
    assert response.status_code == 302 and response["Location"] == reverse("token_new")
    assert client.get(reverse("token_new")).status_code == 200


def test_a_wrong_password_is_refused(client, owner, org, sign_in):
    sign_in(client, owner, fresh_password=False)
    response = client.post(reverse("sudo"), {"password": "nope", "next": reverse("token_new")})
    assert response.status_code == 400
    assert "That is not your password" in response.content.decode()
    assert client.get(reverse("token_new")).status_code == 302


def test_confirmation_never_redirects_off_site(client, owner, sign_in):
    sign_in(client, owner, fresh_password=False)
    response = client.post(reverse("sudo"), {"password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")


def test_password_guessing_on_the_confirmation_page_is_limited(client, owner, sign_in):
    sign_in(client, owner, fresh_password=False)
    for _ in range(10):
        assert client.post(reverse("sudo"), {"password": "guess"}).status_code == 400
    response = client.post(reverse("sudo"), {"password": PASSWORD})
    assert response.status_code == 429
    assert not sudo.is_fresh(type("R", (), {"session": client.session})())


def test_signing_out_ends_the_window(client, owner, org, sign_in):
    sign_in(client, owner)
    client.post(reverse("logout"))
    client.force_login(owner)
    assert client.get(reverse("token_new")).status_code == 302
