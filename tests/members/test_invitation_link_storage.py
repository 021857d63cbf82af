"""An invitation's link works by itself, so the outbox keeps it only until the email is sent,
and the ops console never shows it."""

import pytest
from django.core import mail
from django.urls import reverse

from members.invitations import invite_member
from notifications.models import Notification
from notifications.services import deliver_notification, queue_notification
from tokens.actors import Actor

pytestmark = pytest.mark.django_db


def invitation_email(org) -> tuple[Notification, str]:
    issued = invite_member(org, email="newcomer@example.com", role="member", actor=Actor.cli())
    return Notification.objects.get(kind=Notification.Kind.MEMBER_INVITED), issued.secret


def test_the_sent_email_has_the_link_and_the_stored_row_no_longer_does(org):
    notification, secret = invitation_email(org)
    assert secret in notification.body_text  # until it is sent

    assert deliver_notification(notification.pk).outcome == "sent"

    assert secret in mail.outbox[0].body
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    assert secret not in notification.body_text + notification.body_html
    assert "single-use link" in notification.body_text


def test_other_emails_keep_their_body(owner):
    notification = queue_notification(
        kind=Notification.Kind.PASSWORD_CHANGED,
        user=owner,
        context={"how": "changed", "ip": "192.0.2.1", "at": None},
        dedup_key="password:1",
    )

    deliver_notification(notification.pk)

    notification.refresh_from_db()
    assert notification.body_text == mail.outbox[0].body


def test_ops_never_see_a_queued_invitation_link(org, ops_user):
    from django.contrib.auth.models import Group
    from django.test import Client

    notification, secret = invitation_email(org)
    ops_user.groups.add(Group.objects.get(name="Ops"))
    client = Client()
    client.force_login(ops_user)

    page = client.get(reverse("admin:notifications_notification_change", args=[notification.pk]))

    assert page.status_code == 200
    assert secret not in page.content.decode()
    assert "single-use link" in page.content.decode()
