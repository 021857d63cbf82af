"""An announcement: one changelog entry, emailed once to the people who use the API."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import User


class Announcement(models.Model):
    """Ops write it in /admin/ (title and body start as the entry's), then publish it once.

    `published_at` is set by a conditional UPDATE (changelog.services.publish_announcement), so
    two clicks, two ops or a retried request can publish it only once; the emails' dedup keys
    (one per announcement and inbox) make the fan-out itself safe to run again."""

    entry_id = models.CharField(
        max_length=100, unique=True, help_text="The changelog entry it announces (its id)"
    )
    title = models.CharField(max_length=200, help_text="The email's subject line")
    body = models.TextField(
        max_length=5000, help_text="The email's text; paragraphs separated by a blank line"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Filled in by the fan-out task once every email is in the outbox.
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(
        default=0, help_text="Emails queued (one per inbox), the targeted ones included"
    )
    targeted = models.PositiveIntegerField(
        default=0, help_text="Of those, emails listing the deprecated calls of the reader's tokens"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def paragraphs(self) -> list[str]:
        return [part.strip() for part in self.body.split("\n\n") if part.strip()]
