"""Write the email outbox: one row per notice, in the caller's transaction, sent once it commits.

`queue_notification` is called by every service that has something to tell someone (tokens,
telemetry, members); it knows nothing about tokens, only kinds, templates and a dedup key.
The sweeper (below) re-sends what a dead worker or a lost broker message left behind.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from notifications.delivery import _conf, enqueue_on_commit
from notifications.models import Notification
from notifications.rendering import render_notification

logger = logging.getLogger(__name__)


def queue_notification(
    *,
    kind: str,
    user: User | None,
    context: dict[str, Any],
    dedup_key: str,
    to_email: str | None = None,
) -> Notification | None:
    """Write one outbox row in the caller's transaction and send it once that commits.

    Returns None (and writes nothing) when a row with `dedup_key` already exists, without
    breaking the caller's transaction: the insert runs in a savepoint.
    """
    recipient = to_email or (user.email if user is not None else "")
    if not recipient:
        raise ValueError("A notification needs a user or a to_email")
    if Notification.objects.filter(dedup_key=dedup_key).exists():
        return None  # the common case for re-run scans: no render, no savepoint
    rendered = render_notification(kind, {"user": user, **context})
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=kind,
                user=user,
                to_email=recipient,
                subject=rendered.subject,
                body_text=rendered.body_text,
                body_html=rendered.body_html,
                dedup_key=dedup_key,
            )
    except IntegrityError:
        # Someone else wrote the same key between our check and our insert.
        if Notification.objects.filter(dedup_key=dedup_key).exists():
            return None
        raise
    enqueue_on_commit(notification.id)
    return notification


@dataclass(frozen=True, slots=True)
class NotificationRequest:
    """One notification for `queue_notifications`; the same fields as `queue_notification`."""

    kind: str
    user: User | None
    context: dict[str, Any]
    dedup_key: str
    to_email: str | None = None


def queue_notifications(requests: Sequence[NotificationRequest]) -> int:
    """`queue_notification` for a batch (the expiry scan): one query to skip the keys that
    exist, one multi-row insert, one to find the new ids. Returns how many rows it wrote."""
    keys = [request.dedup_key for request in requests]
    existing = set(
        Notification.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True)
    )
    rows: dict[str, Notification] = {}
    for request in requests:
        if request.dedup_key in existing or request.dedup_key in rows:
            continue
        recipient = request.to_email or (request.user.email if request.user else "")
        if not recipient:
            raise ValueError("A notification needs a user or a to_email")
        rendered = render_notification(request.kind, {"user": request.user, **request.context})
        rows[request.dedup_key] = Notification(
            kind=request.kind,
            user=request.user,
            to_email=recipient,
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            dedup_key=request.dedup_key,
        )
    if not rows:
        return 0
    with transaction.atomic():
        # ON CONFLICT DO NOTHING: a scan running at the same time may have written some.
        Notification.objects.bulk_create(rows.values(), ignore_conflicts=True)
        ids = list(
            Notification.objects.filter(
                dedup_key__in=list(rows), state=Notification.State.QUEUED, attempts=0
            ).values_list("id", flat=True)
        )
        enqueue_on_commit(*ids)
    return len(ids)


def set_expiry_reminders(user: User, *, enabled: bool) -> User:
    """Turn expiry reminder emails on or off. Security notices are sent regardless."""
    if user.wants_expiry_reminders != enabled:
        user.wants_expiry_reminders = enabled
        user.save(update_fields=["wants_expiry_reminders"])
    return user


def retry_failed_notification(notification: Notification) -> bool:
    """Send a `failed` notification again from scratch (an admin action, once the mail server
    or the address is fixed). Returns False when it was not failed (nothing to do)."""
    with transaction.atomic():
        retried = Notification.objects.filter(
            id=notification.id, state=Notification.State.FAILED
        ).update(state=Notification.State.QUEUED, attempts=0, next_attempt_at=None, claimed_at=None)
        if retried:
            enqueue_on_commit(notification.id)
    return retried == 1


# --- The sweeper ---------------------------------------------------------------------------
#
# Nothing lost: the outbox row is committed with the event, so a lost broker message, a broker
# that was down at commit time or a worker that died only leaves a row in `queued` or
# `sending`, and the sweeper (a beat task every minute) sends it again.
#
# Nothing sent twice, as far as SMTP lets us:
# - Two tasks for one row (a Celery redelivery, a retry plus a sweep) never both send: each
#   claims the row with a conditional UPDATE queued -> sending, and only the winner sends.
# - A row left in `sending` is the hard case. Its worker died (or lost the database) somewhere
#   between the claim and the `sent` update, and SMTP has no way to ask a server "did you
#   accept message X?". If it died before the server's 250 reply to DATA, the mail never left;
#   if it died after, it did. We cannot tell which, so we choose AT-LEAST-ONCE: once the row
#   has been `sending` for longer than any send can take (NOTIFICATION_SENDING_TIMEOUT_SECONDS,
#   far above EMAIL_TIMEOUT), it is re-queued and sent again. A missed security notice
#   ("your token was revoked") costs more than a repeated one. The window for a repeat is the
#   few milliseconds between the 250 reply and our commit, and the repeat carries the same
#   Message-ID, so mail systems that collapse duplicates by Message-ID show it once.
#   Exactly-once would need the mail server to deduplicate for us; at-most-once (mark the row
#   failed instead) would lose notices whenever a worker is killed mid-send.
# - A re-claim is itself a conditional UPDATE (state = sending and claimed_at still old), so
#   two sweepers, or a sweeper racing a slow worker that finally finishes, cannot both win.
#   The timeout must stay well above the longest possible send, or a slow but alive worker
#   and the re-send would overlap.


@dataclass(frozen=True, slots=True)
class SweepResult:
    requeued: list[int]
    failed: int


def sweep_notifications(*, batch_size: int = 500) -> SweepResult:
    """Re-queue rows stuck in `sending` past the timeout and re-enqueue `queued` rows the
    broker seems to have lost. Returns the ids it enqueued (after commit)."""
    now = timezone.now()
    stuck_since = now - timedelta(seconds=_conf("NOTIFICATION_SENDING_TIMEOUT_SECONDS"))
    overdue_since = now - timedelta(seconds=_conf("NOTIFICATION_QUEUED_GRACE_SECONDS"))
    max_attempts = _conf("NOTIFICATION_MAX_ATTEMPTS")
    pending = Notification.objects.select_for_update(skip_locked=True)
    with transaction.atomic():
        stuck = list(
            pending.filter(state=Notification.State.SENDING, claimed_at__lt=stuck_since)
            .order_by("claimed_at")
            .values_list("id", "attempts")[:batch_size]
        )
        still_stuck = Notification.objects.filter(
            state=Notification.State.SENDING, claimed_at__lt=stuck_since
        )
        # A row whose worker died on every attempt (a message that crashes it) stops here.
        failed = still_stuck.filter(
            id__in=[i for i, attempts in stuck if attempts >= max_attempts]
        ).update(
            state=Notification.State.FAILED,
            last_error="The worker was lost while sending, on every attempt.",
        )
        still_stuck.filter(id__in=[i for i, attempts in stuck if attempts < max_attempts]).update(
            state=Notification.State.QUEUED,
            next_attempt_at=now,
            last_error="The worker was lost while sending; sent again (it may arrive twice).",
        )
        # Queued rows that are overdue: fresh ones whose task never arrived, retries whose
        # countdown message was lost. Marking them due now keeps the next sweep off them for
        # another grace period, so a backlog is not flooded with duplicate tasks.
        overdue = Q(next_attempt_at__isnull=True, created_at__lt=overdue_since) | Q(
            next_attempt_at__lt=overdue_since
        )
        lost = list(
            pending.filter(overdue, state=Notification.State.QUEUED)
            .order_by("created_at")
            .values_list("id", flat=True)[:batch_size]
        )
        Notification.objects.filter(id__in=lost, state=Notification.State.QUEUED).update(
            next_attempt_at=now
        )
        requeued = [i for i, attempts in stuck if attempts < max_attempts] + lost
        if requeued:
            enqueue_on_commit(*requeued)
    if requeued or failed:
        logger.warning(
            "outbox sweep: re-enqueued %s stuck and %s lost notifications, %s failed",
            len(requeued) - len(lost),
            len(lost),
            failed,
        )
    return SweepResult(requeued=requeued, failed=failed)
