"""Deliver the outbox: claim one row, send it over SMTP, record what happened, and the Celery
task that does this for one row id.

The task lives here, beside the service it calls, rather than in tasks.py: every writer of the
outbox (outbox.py, the sweeper) enqueues it, and tasks.py importing them back would make a
circle. tasks.py re-exports it, so Celery's autodiscovery and its name stay as they were.
"""

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from notifications.models import Notification

logger = logging.getLogger(__name__)

LINK_REMOVED = (
    "This email carried a single-use link. Its text is not kept once it is sent, so that the "
    "outbox is not a second way to use the link.\n"
)


def _conf(name: str) -> int:
    # Read at call time, not import time, so tests (and the worker's env) can change them.
    return settings.QUAYGATE[name]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one send attempt. `retry_in` is set when the task should try again."""

    outcome: str  # "sent", "retry", "failed", "skipped"
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    """Exponential backoff after the `attempts`-th failure: base, 2*base, 4*base ... capped."""
    base = _conf("NOTIFICATION_RETRY_BASE_SECONDS")
    return float(min(base * 2 ** max(attempts - 1, 0), _conf("NOTIFICATION_RETRY_MAX_SECONDS")))


def claim_notification(notification_id: int) -> datetime | None:
    """Take a queued, due row for sending. Exactly one caller wins and gets its claim time;
    the others get None.

    A stale task (a Celery redelivery, a retry that the sweeper also re-queued) that arrives
    before the row's next attempt is due is turned away, so backoff is kept.
    """
    now = timezone.now()
    # One second of slack for workers whose clocks disagree slightly.
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    claimed = Notification.objects.filter(
        due, id=notification_id, state=Notification.State.QUEUED
    ).update(state=Notification.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return now if claimed == 1 else None


def build_message(notification: Notification) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        to=[notification.to_email],
        # A stable Message-ID: if a send is ever repeated (see the sweeper), mail clients and
        # servers that collapse duplicates by Message-ID show it once.
        headers={
            "Message-ID": f"<notification-{notification.id}@{_message_id_domain()}>",
            "Auto-Submitted": "auto-generated",
        },
    )
    if notification.body_html:
        message.attach_alternative(notification.body_html, "text/html")
    return message


def _message_id_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "quaygate.localhost"


def deliver_notification(notification_id: int) -> Delivery:
    """Claim, send and record one notification. SMTP and network errors become a retry
    (exponential backoff) until NOTIFICATION_MAX_ATTEMPTS, then the row is `failed`."""
    claimed_at = claim_notification(notification_id)
    if claimed_at is None:
        return Delivery("skipped")
    notification = Notification.objects.get(id=notification_id)
    # Our claim, even if the sweeper has since re-queued the row (we were slow, not dead):
    # recording the send then stops the re-send; once another worker re-claims it, it isn't ours.
    ours = Notification.objects.filter(
        id=notification_id,
        claimed_at=claimed_at,
        state__in=[Notification.State.SENDING, Notification.State.QUEUED],
    )
    try:
        build_message(notification).send(using="default")
    except OSError as error:  # smtplib.SMTPException is an OSError, so are socket errors
        return _record_failure(ours, notification, error, permanent=_is_permanent(error))
    except Exception as error:
        # Not the network: a bug or bad data. Retrying cannot help; leave it visible in the
        # admin rather than stuck in `sending` for the sweeper to retry blindly.
        _record_failure(ours, notification, error, permanent=True)
        raise
    sent = {"state": Notification.State.SENT, "sent_at": timezone.now(), "last_error": ""}
    if notification.carries_a_link:
        sent |= {"body_text": LINK_REMOVED, "body_html": ""}
    ours.update(**sent, next_attempt_at=None)
    return Delivery("sent")


def _is_permanent(error: OSError) -> bool:
    """A 5xx reply (no such mailbox, rejected as policy) will not change on retry; 4xx and
    network errors might."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False


def _record_failure(
    ours: QuerySet[Notification],
    notification: Notification,
    error: Exception,
    *,
    permanent: bool = False,
) -> Delivery:
    attempts = notification.attempts
    message = f"{type(error).__name__}: {error}"[:2000]
    if permanent or attempts >= _conf("NOTIFICATION_MAX_ATTEMPTS"):
        ours.update(state=Notification.State.FAILED, last_error=message, next_attempt_at=None)
        logger.error(
            "notification %s failed after %s attempts: %s", notification.id, attempts, message
        )
        return Delivery("failed")
    delay = retry_delay(attempts)
    ours.update(
        state=Notification.State.QUEUED,
        last_error=message,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    logger.warning(
        "notification %s attempt %s failed, retrying in %ss: %s",
        notification.id,
        attempts,
        delay,
        message,
    )
    return Delivery("retry", retry_in=delay)


@shared_task(name="notifications.send_notification", ignore_result=True)
def send_notification(notification_id: int) -> str:
    delivery = deliver_notification(notification_id)
    if delivery.retry_in is not None:
        try:
            send_notification.apply_async((notification_id,), countdown=delivery.retry_in)
        except Exception:
            # The broker is down too: the row is queued with next_attempt_at, the sweeper
            # sends it when things are back.
            logger.exception("could not schedule retry of notification %s", notification_id)
    return delivery.outcome


def enqueue_on_commit(*notification_ids: int) -> None:
    # robust: the rows are already committed; if the broker is down the sweeper sends them
    # later, and the caller (a portal request, an API call) must not fail because of it.
    transaction.on_commit(lambda: _enqueue(notification_ids), robust=True)


def _enqueue(notification_ids: Iterable[int]) -> None:
    for notification_id in notification_ids:
        send_notification.delay(notification_id)
