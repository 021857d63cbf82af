"""Announcing a changelog entry: publish it once (audit event), then email it, once per inbox.

`publish_announcement` is what the admin action calls: it claims the announcement with a
conditional UPDATE (a second publish, by anyone, is refused and sends nothing), writes the
audit event, and on commit hands the fan-out to a task. `send_announcement` (the task's one
call) writes the outbox in batches: first the targeted emails to the owners of tokens that
called a retiring operation in the last 30 days (which token called what, counted in SQL), then
the announcement to every other reader. Each email's dedup key is the announcement and the
inbox, so a retried or repeated fan-out writes nothing twice, and each reader gets exactly one
email: the targeted one carries the announcement too.
"""

from __future__ import annotations

from itertools import groupby

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from changelog import entries
from changelog.audience import DeprecatedCall, deprecated_calls, readers
from changelog.models import Announcement
from core.errors import ServiceError
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens.actors import Actor
from tokens.models import AuditEvent
from tokens.services import record_audit_event

# Readers per outbox batch: a fixed handful of queries each, however many readers there are.
BATCH_SIZE = 500


class AnnouncementError(ServiceError):
    pass


def draft_announcement(
    *, entry_id: str, title: str = "", body: str = "", by: User | None = None
) -> Announcement:
    """A draft for a changelog entry; the title and body default to the entry's."""
    entry = _entry_of(entry_id)
    if Announcement.objects.filter(entry_id=entry_id).exists():
        raise AnnouncementError(
            f"The entry {entry_id!r} already has an announcement.", code="already_drafted"
        )
    return Announcement.objects.create(
        entry_id=entry_id,
        title=title.strip() or entry.title,
        body=body.strip() or entry.description,
        created_by=by,
    )


def publish_announcement(
    announcement: Announcement, *, actor: Actor, note: str = ""
) -> Announcement:
    """Publish once: the audit event now, the emails from a task once this commits."""
    entry = _entry_of(announcement.entry_id)
    with transaction.atomic():
        now = timezone.now()
        claimed = Announcement.objects.filter(pk=announcement.pk, published_at__isnull=True).update(
            published_at=now, published_by=actor.user
        )
        if not claimed:
            announcement.refresh_from_db()
            raise AnnouncementError(
                already_published_message(announcement), code="already_published"
            )
        announcement.published_at, announcement.published_by = now, actor.user
        record_audit_event(
            action=AuditEvent.Action.ANNOUNCEMENT_PUBLISHED,
            actor=actor,
            details={
                "announcement_id": announcement.pk,
                "entry_id": entry.id,
                "version": entry.version,
                "kind": entry.kind,
                "title": announcement.title,
                **({"note": note} if note else {}),
            },
        )
        transaction.on_commit(lambda: send_announcement_task.delay(announcement.pk))
    return announcement


def already_published_message(announcement: Announcement) -> str:
    by = f" by {announcement.published_by.email}" if announcement.published_by else ""
    return (
        f"“{announcement.title}” was already published on "
        f"{announcement.published_at:%Y-%m-%d %H:%M} UTC{by}; nothing was sent again."
    )


def _entry_of(entry_id: str) -> entries.Entry:
    entry = entries.entry(entry_id)
    if entry is None:
        raise AnnouncementError(
            f"The changelog has no entry {entry_id!r}.", code="unknown_entry", field="entry_id"
        )
    return entry


def send_announcement(announcement: Announcement) -> Announcement:
    """Queue every email of a published announcement (safe to run again: nothing is sent
    twice). Returns the announcement with its counts and `sent_at`."""
    if not announcement.is_published:
        raise AnnouncementError("Publish the announcement first.", code="not_published")
    entry = _entry_of(announcement.entry_id)
    context = _context(announcement, entry)
    calls = deprecated_calls(entry) if entry.retires_operations else []
    targeted = _queue_targeted(announcement, context, calls)
    everyone = targeted + _queue_everyone_else(announcement, context, {c.owner_id for c in calls})
    Announcement.objects.filter(pk=announcement.pk).update(
        sent_at=timezone.now(), recipients=everyone, targeted=targeted
    )
    announcement.refresh_from_db()
    return announcement


def _context(announcement: Announcement, entry: entries.Entry) -> dict:
    return {
        "title": announcement.title,
        "paragraphs": announcement.paragraphs,
        "entry": entry,
        "changelog_url": f"/api/changelog/#{entry.id}",
    }


def _dedup_key(announcement: Announcement, user: User) -> str:
    # Per inbox: the address, not the account, is what must not get two copies.
    return f"announcement:{announcement.pk}:{user.email.lower()}"[:200]


def _queue_targeted(announcement: Announcement, context: dict, calls: list[DeprecatedCall]) -> int:
    if not calls:
        return 0
    owners = User.objects.filter(id__in={call.owner_id for call in calls}, is_active=True)
    people = {user.id: user for user in owners}
    requests = []
    for owner_id, theirs in groupby(calls, key=lambda call: call.owner_id):
        if owner_id not in people:
            continue
        requests.append(
            NotificationRequest(
                kind=Notification.Kind.API_DEPRECATION,
                user=people[owner_id],
                context={**context, "tokens": _by_token(list(theirs))},
                dedup_key=_dedup_key(announcement, people[owner_id]),
            )
        )
    queue_notifications(requests)
    return len(requests)


def _by_token(calls: list[DeprecatedCall]) -> list[dict]:
    """The calls of one owner, grouped under each token for the email."""
    tokens: dict[int, dict] = {}
    for call in calls:
        token = tokens.setdefault(
            call.token_id,
            {
                "name": call.token_name,
                "display_prefix": call.display_prefix,
                "organization": call.organization,
                "url": f"/tokens/{call.token_id}/",
                "calls": [],
            },
        )
        token["calls"].append(
            {"operation": call.operation, "count": call.calls, "last_called": call.last_called}
        )
    return list(tokens.values())


def _queue_everyone_else(announcement: Announcement, context: dict, skip: set[int]) -> int:
    """The announcement to every reader not already emailed, BATCH_SIZE at a time (keyset on
    the user id: each batch is one read, then the outbox's fixed handful of queries)."""
    total, after = 0, 0
    while True:
        batch = list(
            readers()
            .exclude(id__in=skip)
            .filter(id__gt=after)
            .only("id", "email", "full_name")[:BATCH_SIZE]
        )
        if not batch:
            return total
        queue_notifications(
            [
                NotificationRequest(
                    kind=Notification.Kind.API_ANNOUNCEMENT,
                    user=user,
                    context=context,
                    dedup_key=_dedup_key(announcement, user),
                )
                for user in batch
            ]
        )
        total += len(batch)
        after = batch[-1].id


# The task lives beside the service it calls, as notifications.delivery's does, so services and
# tasks do not import each other round a cycle; changelog.tasks re-exports it for autodiscovery.
@shared_task(
    name="changelog.send_announcement",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def send_announcement_task(announcement_id: int) -> int:
    """Safe to retry: every email's dedup key is the announcement and the inbox."""
    announcement = Announcement.objects.filter(pk=announcement_id).first()
    if announcement is None:
        return 0
    return send_announcement(announcement).recipients
