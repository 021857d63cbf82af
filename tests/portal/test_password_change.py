"""Changing the password from the account page: the current one first, Django's validators for
the new one, this session kept and every other one signed out, the sudo window opened."""

import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from notifications.models import Notification
from tests.conftest import PASSWORD
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "quay-crane-lifts-40-feet"


def change(client, *, old=PASSWORD, new=NEW_PASSWORD, again=None):
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new, "new_password2": again or new},
    )


def test_the_account_page_links_to_the_change_password_page(client, owner, sign_in):
    html = sign_in(client, owner).get(reverse("account")).content.decode()
    assert reverse("password_change") in html
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    html = page.content.decode()
    for label in ("Current password", "New password", "New password again"):
        assert f">{label}</label>" in html
    assert 'autocomplete="current-password"' in html and 'autocomplete="new-password"' in html


def test_changing_the_password_keeps_this_session_signed_in(client, owner, sign_in):
    sign_in(client, owner)
    response = change(client)
    assert response.status_code == 302 and response["Location"] == reverse("account")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD) and not owner.check_password(PASSWORD)
    page = client.get(reverse("account"))
    assert page.status_code == 200
    assert "Your password is changed" in page.content.decode()


def test_changing_the_password_signs_out_every_other_session(client, owner, sign_in):
    elsewhere = Client()
    elsewhere.post(reverse("login"), {"username": owner.email, "password": PASSWORD})
    assert elsewhere.get(reverse("dashboard")).status_code == 200
    change(sign_in(client, owner))
    response = elsewhere.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_new_password_signs_in_and_the_old_one_does_not(client, owner, sign_in):
    change(sign_in(client, owner))
    other = Client()
    refused = other.post(reverse("login"), {"username": owner.email, "password": PASSWORD})
    assert refused.status_code == 200  # the form again, with its error
    signed_in = other.post(reverse("login"), {"username": owner.email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302


def test_a_changed_password_opens_the_sudo_window(client, owner, org, sign_in):
    with time_machine.travel(time.time(), tick=False) as traveller:
        sign_in(client, owner)
        traveller.shift(60 * 60)  # the sign-in's window is long closed
        assert client.get(reverse("token_new")).status_code == 302
        change(client)
        assert client.get(reverse("token_new")).status_code == 200


def test_a_wrong_current_password_changes_nothing(client, owner, sign_in):
    response = change(sign_in(client, owner), old="not-my-password")
    assert response.status_code == 400
    html = response.content.decode()
    assert "That is not your current password" in html
    assert "not-my-password" not in html and NEW_PASSWORD not in html  # never echoed back
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new", "again", "message"),
    [
        ("short-1", None, "too short"),
        ("password1234", None, "too common"),
        (NEW_PASSWORD, "something-else-entirely", "The two new passwords are not the same"),
    ],
    ids=["too short", "too common", "mismatch"],
)
def test_a_weak_or_mistyped_new_password_is_explained(client, owner, sign_in, new, again, message):
    response = change(sign_in(client, owner), new=new, again=again)
    assert response.status_code == 400
    assert message in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_guessing_the_current_password_is_limited(client, owner, sign_in):
    sign_in(client, owner)
    for _ in range(10):
        assert change(client, old="guess").status_code == 400
    limited = change(client)  # even the right one, until the window passes
    assert limited.status_code == 429
    assert "Too many wrong current passwords" in limited.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_mistyped_new_password_does_not_count_as_a_guess(client, owner, sign_in):
    sign_in(client, owner)
    for _ in range(12):
        assert change(client, again="typo-typo-typo-typo").status_code == 400
    assert change(client).status_code == 302


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_changing_the_password_needs_a_csrf_token(csrf_client, owner, sign_in):
    assert change(sign_in(csrf_client, owner)).status_code == 403
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_change_is_a_security_notice_and_an_audit_event_in_each_organisation(
    client, owner, org, other_org, sign_in
):
    Membership.objects.create(user=owner, organization=other_org, role=Membership.Role.MEMBER)
    change(sign_in(client, owner), new=NEW_PASSWORD)

    notice = Notification.objects.get(kind=Notification.Kind.PASSWORD_CHANGED)
    assert notice.user == owner and notice.to_email == owner.email
    assert notice.subject == "Your Quaygate password was changed"
    assert "/password-reset/" in notice.body_text  # how to take the account back
    assert NEW_PASSWORD not in notice.body_text + notice.body_html
    assert PASSWORD not in notice.body_text + notice.body_html
    events = AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_CHANGED)
    assert {event.organization for event in events} == {org, other_org}
    assert all(event.actor_user == owner and event.ip for event in events)


def test_a_refused_change_notifies_nobody_and_logs_no_change(client, owner, sign_in):
    response = change(sign_in(client, owner), old="not-the-password")
    assert response.status_code == 400
    assert not Notification.objects.filter(kind=Notification.Kind.PASSWORD_CHANGED).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_CHANGED).exists()
