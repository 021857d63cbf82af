"""Write and deliver the email outbox.

`queue_notification` is called by every service that has something to tell someone (tokens,
telemetry); it knows nothing about tokens, only kinds, templates and a dedup key.
`deliver_notification` is what the Celery task calls to send one row.
"""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import Notification
from portal.models import User

logger = logging.getLogger(__name__)

# Reminders the user may turn off. Everything else is a security notice and always goes.
REMINDER_KINDS = frozenset({Notification.Kind.TOKEN_EXPIRING})

# A full personal access token ("qgp_" + 36 base62 characters). The display prefix
# ("qgp_AbC1") is fine; anything this long in an email is a bug in a caller.
_SECRET_LIKE = re.compile(r"qgp_[0-9A-Za-z]{20,}")


# Other names callers use for the same facts.
_ALIASES = {"organization_name": "organization", "token_prefix": "display_prefix"}


class SecretInNotification(ValueError):
    """A caller passed something that looks like a whole token into an email."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    body_text: str
    body_html: str


_DEFAULTS = {
    "NOTIFICATION_MAX_ATTEMPTS": 8,
    "NOTIFICATION_RETRY_BASE_SECONDS": 30,
    "NOTIFICATION_RETRY_MAX_SECONDS": 3600,
    "NOTIFICATION_SENDING_TIMEOUT_SECONDS": 900,
    "NOTIFICATION_QUEUED_GRACE_SECONDS": 300,
}


def _conf(name: str) -> int:
    # Read at call time, not import time, so tests (and the worker's env) can change them.
    return settings.QUAYGATE.get(name, _DEFAULTS[name])


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
    for part in (rendered.subject, rendered.body_text, rendered.body_html):
        if _SECRET_LIKE.search(part):
            raise SecretInNotification(
                f"refusing to email something that looks like a token ({kind})"
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


def _enqueue_on_commit(notification_id: int) -> None:
    from notifications.tasks import send_notification

    # robust: the row is already committed; if the broker is down the sweeper sends it later,
    # and the caller (a portal request, an API call) must not fail because of it.
    transaction.on_commit(lambda: send_notification.delay(notification_id), robust=True)


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


def claim_notification(notification_id: int) -> bool:
    """Take a queued, due row for sending. Exactly one caller wins; the others get False.

    A stale task (a Celery redelivery, a retry that the sweeper also re-queued) that arrives
    before the row's next attempt is due is turned away, so backoff is kept.
    """
    now = timezone.now()
    # One second of slack for workers whose clocks disagree slightly.
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    claimed = Notification.objects.filter(
        due, id=notification_id, state=Notification.State.QUEUED
    ).update(state=Notification.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return claimed == 1


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
    if not claim_notification(notification_id):
        return Delivery("skipped")
    notification = Notification.objects.get(id=notification_id)
    try:
        build_message(notification).send(using="default")
    except OSError as error:  # smtplib.SMTPException is an OSError, so are socket errors
        return _record_failure(notification, error)
    Notification.objects.filter(id=notification.id, state=Notification.State.SENDING).update(
        state=Notification.State.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
    )
    return Delivery("sent")


def _record_failure(notification: Notification, error: Exception) -> Delivery:
    attempts = notification.attempts
    message = f"{type(error).__name__}: {error}"[:2000]
    pending = Notification.objects.filter(id=notification.id, state=Notification.State.SENDING)
    if attempts >= _conf("NOTIFICATION_MAX_ATTEMPTS"):
        pending.update(state=Notification.State.FAILED, last_error=message, next_attempt_at=None)
        logger.error(
            "notification %s failed after %s attempts: %s", notification.id, attempts, message
        )
        return Delivery("failed")
    delay = retry_delay(attempts)
    pending.update(
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
