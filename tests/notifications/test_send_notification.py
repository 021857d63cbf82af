import smtplib
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from notifications.models import Notification
from notifications.services import (
    claim_notification,
    deliver_notification,
    retry_delay,
    retry_failed_notification,
)
from notifications.tasks import send_notification

QUAYGATE = {
    "NOTIFICATION_MAX_ATTEMPTS": 3,
    "NOTIFICATION_RETRY_BASE_SECONDS": 10,
    "NOTIFICATION_RETRY_MAX_SECONDS": 25,
}


@pytest.fixture(autouse=True)
def short_limits(settings):
    settings.QUAYGATE = settings.QUAYGATE | QUAYGATE


def make_notification(user, **fields) -> Notification:
    defaults = {
        "kind": Notification.Kind.TOKEN_CREATED,
        "user": user,
        "to_email": user.email,
        "subject": "A new token was added",
        "body_text": "text body",
        "body_html": "<p>html body</p>",
        "dedup_key": f"test:{Notification.objects.count()}",
    }
    return Notification.objects.create(**defaults | fields)


def smtp_down():
    return mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        autospec=True,
        side_effect=smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    )


def test_it_sends_text_with_an_html_alternative_and_marks_the_row_sent(owner):
    notification = make_notification(owner)

    send_notification(notification.id)

    [message] = mail.outbox
    assert message.to == [owner.email]
    assert message.subject == "A new token was added"
    assert message.body == "text body"
    assert message.alternatives[0].content == "<p>html body</p>"
    assert message.alternatives[0].mimetype == "text/html"
    assert message.extra_headers["Message-ID"] == f"<notification-{notification.id}@127.0.0.1>"
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    assert notification.sent_at is not None
    assert notification.attempts == 1


def test_a_row_that_is_already_sent_is_not_sent_again(owner):
    notification = make_notification(owner)
    send_notification(notification.id)
    send_notification(notification.id)

    assert len(mail.outbox) == 1


def test_a_row_another_worker_is_sending_is_left_alone(owner):
    notification = make_notification(owner, state=Notification.State.SENDING)

    assert deliver_notification(notification.id).outcome == "skipped"
    assert mail.outbox == []


def test_only_one_claim_of_a_queued_row_wins(owner):
    notification = make_notification(owner)

    assert claim_notification(notification.id) is not None
    assert claim_notification(notification.id) is None


def test_a_row_waiting_for_its_backoff_cannot_be_claimed_early(owner):
    later = timezone.now() + timedelta(seconds=30)
    notification = make_notification(owner, next_attempt_at=later)

    assert claim_notification(notification.id) is None
    with time_machine.travel(later, tick=False):
        assert claim_notification(notification.id) is not None


def test_an_smtp_error_queues_a_retry_with_exponential_backoff(owner):
    notification = make_notification(owner)

    with time_machine.travel("2026-11-24 12:00:00Z", tick=False), smtp_down():
        delivery = deliver_notification(notification.id)

    assert delivery.outcome == "retry"
    assert delivery.retry_in == 10
    notification.refresh_from_db()
    assert notification.state == Notification.State.QUEUED
    assert notification.attempts == 1
    assert "SMTPServerDisconnected" in notification.last_error
    assert notification.next_attempt_at.isoformat() == "2026-11-24T12:00:10+00:00"


def test_backoff_doubles_and_is_capped():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [10, 20, 25, 25]


def test_after_the_last_attempt_the_row_is_failed_with_its_error(owner):
    notification = make_notification(owner, attempts=2)

    with smtp_down():
        delivery = deliver_notification(notification.id)

    assert delivery.outcome == "failed"
    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED
    assert notification.attempts == 3
    assert "Connection unexpectedly closed" in notification.last_error
    assert notification.next_attempt_at is None


def test_the_task_schedules_its_retry_for_when_the_backoff_ends(owner):
    notification = make_notification(owner)

    with smtp_down(), mock.patch.object(send_notification, "apply_async", autospec=True) as later:
        assert send_notification(notification.id) == "retry"

    later.assert_called_once_with((notification.id,), countdown=10.0)


def test_a_network_error_is_retried_like_an_smtp_error(owner):
    notification = make_notification(owner)
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        autospec=True,
        side_effect=ConnectionRefusedError(111, "Connection refused"),
    ):
        assert deliver_notification(notification.id).outcome == "retry"


@override_settings(SITE_URL="https://quaygate.example")
def test_the_message_id_is_stable_so_a_repeat_is_recognisable(owner):
    notification = make_notification(owner)
    send_notification(notification.id)

    assert mail.outbox[0].extra_headers["Message-ID"] == (
        f"<notification-{notification.id}@quaygate.example>"
    )


def test_a_permanent_smtp_rejection_fails_at_once_without_retrying(owner):
    notification = make_notification(owner)
    rejected = smtplib.SMTPRecipientsRefused({owner.email: (550, b"5.1.1 No such mailbox")})

    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        autospec=True,
        side_effect=rejected,
    ):
        assert deliver_notification(notification.id).outcome == "failed"

    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED
    assert notification.attempts == 1
    assert "No such mailbox" in notification.last_error


def test_a_temporary_smtp_rejection_is_retried(owner):
    notification = make_notification(owner)
    busy = smtplib.SMTPSenderRefused(451, b"4.3.0 Try again later", "no-reply@quaygate.localhost")

    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        autospec=True,
        side_effect=busy,
    ):
        assert deliver_notification(notification.id).outcome == "retry"


def test_an_unexpected_error_marks_the_row_failed_and_is_raised(owner):
    notification = make_notification(owner)

    with (
        mock.patch(
            "django.core.mail.backends.locmem.EmailBackend.send_messages",
            autospec=True,
            side_effect=ValueError("bad header"),
        ),
        pytest.raises(ValueError),
    ):
        deliver_notification(notification.id)

    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED
    assert notification.last_error == "ValueError: bad header"


def test_a_failed_notification_can_be_sent_again_from_scratch(
    owner, django_capture_on_commit_callbacks
):
    notification = make_notification(owner, state="failed", attempts=3, last_error="SMTP down")

    with django_capture_on_commit_callbacks(execute=True):
        assert retry_failed_notification(notification) is True

    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    assert notification.attempts == 1
    assert len(mail.outbox) == 1


def test_only_a_failed_notification_can_be_retried_by_hand(owner):
    notification = make_notification(owner, state="sent")

    assert retry_failed_notification(notification) is False
