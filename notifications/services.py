"""Write and deliver the email outbox.

`queue_notification` is called by every service that has something to tell someone (tokens,
telemetry); it knows nothing about tokens, only kinds, templates and a dedup key.
`deliver_notification` is what the Celery task calls to send one row.
"""

import dataclasses
import logging
import re
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import Notification
from portal.models import User

logger = logging.getLogger(__name__)

# Reminders the user may turn off. Everything else is a security notice and always goes.
REMINDER_KINDS = frozenset({Notification.Kind.TOKEN_EXPIRING, Notification.Kind.TOKEN_EXPIRED})

# A full personal access token ("qgp_" + 36 base62 characters). The display prefix
# ("qgp_AbC1") is fine; anything this long is a secret that reached us by mistake (pasted
# into a token name, a revocation reason, a leak report).
_SECRET_LIKE = re.compile(r"qgp_[0-9A-Za-z]{20,}")


REDACTED = "qgp_[redacted]"

# Other names callers use for the same facts.
_ALIASES = {"organization_name": "organization", "token_prefix": "display_prefix"}


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    body_text: str
    body_html: str


def _conf(name: str) -> int:
    # Read at call time, not import time, so tests (and the worker's env) can change them.
    return settings.QUAYGATE[name]


def absolute_url(path: str) -> str:
    """A link for an email: portal paths become absolute with SITE_URL; full URLs pass."""
    if path.startswith("/"):
        return settings.SITE_URL + path
    return path


def render_notification(kind: str, context: dict[str, Any]) -> RenderedEmail:
    """Render `<kind>_subject.txt`, `<kind>_body.txt` and `<kind>_body.html`.

    Context values named `*_url` that are portal paths ("/tokens/42/") become absolute links.
    """
    kind = Notification.Kind(kind)
    full = {
        key: absolute_url(value) if key.endswith("_url") and isinstance(value, str) else value
        for key, value in context.items()
    }
    for alias, name in _ALIASES.items():
        if alias in full and name not in full:
            full[name] = full[alias]
    full.setdefault("site_url", settings.SITE_URL)
    full.setdefault("kind", kind)
    full.setdefault("is_reminder", kind in REMINDER_KINDS)
    base = f"notifications/{kind.value}"
    subject = render_to_string(f"{base}_subject.txt", full)
    # A subject is one line: a header with a newline in it is refused by the mail library.
    subject = " ".join(subject.split())
    rendered = RenderedEmail(
        subject=subject[:300],
        body_text=_tidy_text(render_to_string(f"{base}_body.txt", full)),
        body_html=render_to_string(f"{base}_body.html", full).strip(),
    )
    if any(_SECRET_LIKE.search(part) for part in dataclasses.astuple(rendered)):
        # Redact rather than refuse: refusing would make the caller's action (creating or
        # revoking a token) fail because of what someone typed into a name or a reason.
        logger.warning("redacted a token-like string from a %s notification", kind.value)
        rendered = RenderedEmail(
            *(_SECRET_LIKE.sub(REDACTED, part) for part in dataclasses.astuple(rendered))
        )
    return rendered


def _tidy_text(text: str) -> str:
    """Template tags leave blank runs behind; a plain-text mail should have at most one."""
    # "-- " (with its space) is the signature separator mail clients recognise.
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if not line and tidy and not tidy[-1]:
            continue
        tidy.append(line)
    return "\n".join(tidy) + "\n"


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
    _enqueue_on_commit(notification.id)
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
        _enqueue_on_commit(*ids)
    return len(ids)


def _enqueue_on_commit(*notification_ids: int) -> None:
    # robust: the rows are already committed; if the broker is down the sweeper sends them
    # later, and the caller (a portal request, an API call) must not fail because of it.
    transaction.on_commit(lambda: _enqueue(notification_ids), robust=True)


def _enqueue(notification_ids: Iterable[int]) -> None:
    from notifications.tasks import send_notification  # tasks import services

    for notification_id in notification_ids:
        send_notification.delay(notification_id)


def set_expiry_reminders(user: User, *, enabled: bool) -> User:
    """Turn expiry reminder emails on or off. Security notices are sent regardless."""
    if user.wants_expiry_reminders != enabled:
        user.wants_expiry_reminders = enabled
        user.save(update_fields=["wants_expiry_reminders"])
    return user


# --- Delivery ------------------------------------------------------------------------------


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
    ours.update(
        state=Notification.State.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
    )
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


def retry_failed_notification(notification: Notification) -> bool:
    """Send a `failed` notification again from scratch (an admin action, once the mail server
    or the address is fixed). Returns False when it was not failed (nothing to do)."""
    with transaction.atomic():
        retried = Notification.objects.filter(
            id=notification.id, state=Notification.State.FAILED
        ).update(state=Notification.State.QUEUED, attempts=0, next_attempt_at=None, claimed_at=None)
        if retried:
            _enqueue_on_commit(notification.id)
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
            _enqueue_on_commit(*requeued)
    if requeued or failed:
        logger.warning(
            "outbox sweep: re-enqueued %s stuck and %s lost notifications, %s failed",
            len(requeued) - len(lost),
            len(lost),
            failed,
        )
    return SweepResult(requeued=requeued, failed=failed)
