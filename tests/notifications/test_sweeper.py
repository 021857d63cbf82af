from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications.models import Notification
from notifications.services import deliver_notification, sweep_notifications
from notifications.tasks import sweep_outbox

from .test_send_notification import make_notification

LIMITS = {
    "NOTIFICATION_MAX_ATTEMPTS": 3,
    "NOTIFICATION_SENDING_TIMEOUT_SECONDS": 600,
    "NOTIFICATION_QUEUED_GRACE_SECONDS": 120,
}


@pytest.fixture(autouse=True)
def limits(settings):
    settings.QUAYGATE = settings.QUAYGATE | LIMITS


def ago(seconds: int):
    return timezone.now() - timedelta(seconds=seconds)


def test_a_row_whose_worker_died_while_sending_is_sent_again_after_the_timeout(
    owner, django_capture_on_commit_callbacks
):
    stuck = make_notification(owner, state="sending", claimed_at=ago(601), attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        sweep_outbox()

    stuck.refresh_from_db()
    assert stuck.state == Notification.State.SENT
    assert stuck.attempts == 2
    assert len(mail.outbox) == 1


def test_a_row_being_sent_right_now_is_left_alone(owner, django_capture_on_commit_callbacks):
    in_flight = make_notification(owner, state="sending", claimed_at=ago(30), attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_notifications()

    assert result.requeued == []
    in_flight.refresh_from_db()
    assert in_flight.state == Notification.State.SENDING
    assert mail.outbox == []


def test_a_row_whose_worker_died_on_every_attempt_is_failed_not_retried_forever(owner):
    stuck = make_notification(owner, state="sending", claimed_at=ago(601), attempts=3)

    result = sweep_notifications()

    assert result.failed == 1
    stuck.refresh_from_db()
    assert stuck.state == Notification.State.FAILED
    assert "worker was lost" in stuck.last_error


def test_a_queued_row_whose_task_was_lost_is_enqueued_again(
    owner, django_capture_on_commit_callbacks
):
    lost = make_notification(owner, created_at=ago(121))
    fresh = make_notification(owner, created_at=ago(5))

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_notifications()

    assert result.requeued == [lost.id]
    assert [m.to for m in mail.outbox] == [[owner.email]]
    fresh.refresh_from_db()
    assert fresh.state == Notification.State.QUEUED


def test_a_retry_waiting_for_its_backoff_is_not_enqueued_early(owner):
    waiting = make_notification(
        owner, attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert sweep_notifications().requeued == []
    waiting.refresh_from_db()
    assert waiting.state == Notification.State.QUEUED


def test_a_retry_whose_countdown_message_was_lost_is_enqueued_again(owner):
    overdue = make_notification(owner, attempts=1, next_attempt_at=ago(121))

    assert sweep_notifications().requeued == [overdue.id]


def test_a_re_enqueued_row_is_not_enqueued_again_by_the_next_sweep(owner):
    """A backlog of queued rows must not be flooded with duplicate tasks every minute."""
    make_notification(owner, created_at=ago(121))

    with mock.patch("notifications.delivery._enqueue", autospec=True):
        first = sweep_notifications()
        second = sweep_notifications()

    assert len(first.requeued) == 1
    assert second.requeued == []


def test_sent_and_failed_rows_are_never_touched(owner):
    make_notification(owner, state="sent", created_at=ago(9999), claimed_at=ago(9999))
    make_notification(owner, state="failed", created_at=ago(9999), claimed_at=ago(9999))

    assert sweep_notifications().requeued == []


def test_a_slow_worker_that_finishes_after_the_sweep_stops_the_re_send(owner):
    """Not dead, only slow: its send is recorded against its own claim, so the re-queued row
    is marked sent and the task the sweeper enqueued finds nothing to do."""
    notification = make_notification(owner)

    with time_machine.travel("2026-11-24 12:00:00Z", tick=False) as clock:

        def slow_send(backend, messages):
            clock.shift(601)
            with mock.patch("notifications.delivery._enqueue", autospec=True):
                assert sweep_notifications().requeued == [notification.id]
            mail.outbox.extend(messages)
            return len(messages)

        with mock.patch(
            "django.core.mail.backends.locmem.EmailBackend.send_messages",
            autospec=True,
            side_effect=slow_send,
        ):
            assert deliver_notification(notification.id).outcome == "sent"

        assert deliver_notification(notification.id).outcome == "skipped"

    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
