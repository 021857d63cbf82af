"""Signing in and out, the rate limits on it, its audit events, and password reset by email."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from notifications.models import Notification
from tests.conftest import PASSWORD
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


WRONG_PASSWORD = "wrong-password"


def attempt(client, email, password=WRONG_PASSWORD, ip="192.0.2.1"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_signing_in_with_the_right_password_opens_the_dashboard(client, owner):
    response = attempt(client, owner.email, PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_the_email_is_case_insensitive(client, owner):
    assert attempt(client, owner.email.upper(), PASSWORD).status_code == 302


def test_a_wrong_password_says_so_without_saying_which_part_was_wrong(client, owner):
    response = attempt(client, owner.email)
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()


def test_signing_in_returns_to_the_page_asked_for_but_never_off_site(client, owner):
    response = client.post(
        reverse("login") + "?next=/account/",
        {"username": owner.email, "password": PASSWORD, "next": "/account/"},
    )
    assert response["Location"] == "/account/"
    client.post(reverse("logout"))
    response = client.post(
        reverse("login"),
        {"username": owner.email, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("dashboard")


def test_sign_in_and_failed_sign_in_are_audit_events_of_the_organisation(client, owner, org):
    attempt(client, owner.email)
    attempt(client, owner.email, PASSWORD, ip="198.51.100.9")
    failed = AuditEvent.objects.get(action="user.login_failed")
    assert failed.organization == org and failed.details == {"account": owner.email}
    assert failed.actor_kind == "anonymous"
    login = AuditEvent.objects.get(action="user.login")
    assert login.actor_user == owner and login.ip == "198.51.100.9"


def test_a_failed_attempt_on_an_unknown_account_does_not_record_what_was_typed(client, db):
    attempt(client, "my-password-by-mistake")
    event = AuditEvent.objects.get(action="user.login_failed")
    assert "my-password" not in str(event.details) and event.organization is None


def test_an_account_is_locked_for_a_while_after_ten_failures_even_from_many_addresses(
    client, owner
):
    for number in range(10):
        assert attempt(client, owner.email, ip=f"192.0.2.{number + 1}").status_code == 200
    limited = attempt(client, owner.email, ip="192.0.2.99")
    assert limited.status_code == 429
    assert "Too many failed sign-in attempts" in limited.content.decode()
    # Even the right password is refused until the window passes.
    assert attempt(client, owner.email, PASSWORD, ip="192.0.2.100").status_code == 429


def test_an_address_is_limited_after_thirty_failures_across_accounts(client, owner):
    for number in range(30):
        attempt(client, f"guess{number}@example.com", ip="203.0.113.5")
    assert attempt(client, owner.email, PASSWORD, ip="203.0.113.5").status_code == 429
    assert attempt(client, owner.email, PASSWORD, ip="203.0.113.6").status_code == 302


def test_successful_sign_ins_do_not_count_towards_the_limit(client, owner):
    for _ in range(12):
        assert attempt(client, owner.email, PASSWORD).status_code == 302
        client.post(reverse("logout"))


def test_signing_out_is_a_post_and_ends_the_session(client, owner):
    client.force_login(owner)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout"))["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_password_reset_emails_a_working_link(client, owner):
    response = client.post(reverse("password_reset"), {"email": owner.email})
    assert response["Location"] == reverse("password_reset_done")
    (message,) = mail.outbox
    assert message.to == [owner.email]
    link = re.search(r"https?://\S+/reset/\S+/", message.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get("/" + path, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"},
    )
    assert done["Location"] == reverse("password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password("a-brand-new-passphrase")
    # A reset is a security notice to the account and an event in its organisation's log.
    notice = Notification.objects.get(kind=Notification.Kind.PASSWORD_CHANGED)
    assert notice.to_email == owner.email and notice.subject == "Your Quaygate password was reset"
    assert "a-brand-new-passphrase" not in notice.body_text + notice.body_html
    event = AuditEvent.objects.get(action=AuditEvent.Action.PASSWORD_CHANGED)
    assert (event.actor_user, event.organization, event.details) == (
        owner,
        owner.memberships.get().organization,
        {"how": "reset"},
    )


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_password_reset_cannot_flood_an_inbox(client, owner):
    for _ in range(5):
        response = client.post(reverse("password_reset"), {"email": owner.email})
        assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 3


def test_the_sign_in_page_has_labelled_fields_and_a_csrf_token(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">Email</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert "csrfmiddlewaretoken" in html
