"""Ops console: the email outbox. Read-only, with a Retry action for failed emails once their
cause (the mail server, an address) is fixed. The retry and its audit event commit together."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from core.admin_utils import LargeTableAdmin, ReadOnlyAdminMixin
from notifications import services as notification_services
from notifications.models import Notification
from portal.admin.revoking import BOTH_LOCATIONS
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import AuditEvent

# One transaction per email; a mail-server outage can fail many, so allow a good batch.
MAX_RETRIES_AT_ONCE = 1000


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = [
        "created_at",
        "kind",
        "to_email",
        "state",
        "attempts",
        "short_error",
        "sent_at",
    ]
    list_display_links = ["created_at", "kind"]
    list_filter = ["state", "kind", "created_at"]
    search_fields = ["=to_email"]
    search_help_text = "The recipient's exact email address."
    # Newest first by primary key: rows are created in time order and the key is indexed.
    ordering = ["-id"]
    actions = ["retry"]
    fields = [
        "kind",
        "user",
        "to_email",
        "subject",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "claimed_at",
        "next_attempt_at",
        "sent_at",
        "dedup_key",
        "text_body",
    ]
    readonly_fields = fields

    # Rows are written by services (the outbox) and sent by workers; the form is display-only.
    def has_retry_permission(self, request, obj=None):
        return request.user.has_perm("notifications.change_notification")

    @admin.action(
        description="Send again",
        description_plural="Send selected failed emails again",
        permissions=["retry"],
        location=BOTH_LOCATIONS,
    )
    def retry(self, request, queryset):
        failed = queryset.filter(state=Notification.State.FAILED).order_by("pk")
        if failed[: MAX_RETRIES_AT_ONCE + 1].count() > MAX_RETRIES_AT_ONCE:
            self.message_user(
                request,
                f"More than {MAX_RETRIES_AT_ONCE} failed emails selected: filter the list first.",
                messages.ERROR,
            )
            return
        actor = Actor.from_request(request, ops=True)
        retried = 0
        for notification in failed:
            with transaction.atomic():
                if not notification_services.retry_failed_notification(notification):
                    continue  # sent again by someone else meanwhile
                token_services.record_audit_event(
                    action=AuditEvent.Action.NOTIFICATION_RETRIED,
                    actor=actor,
                    details={
                        "notification_id": notification.pk,
                        "kind": notification.kind,
                        "to": notification.to_email,
                        "last_error": notification.last_error[:200],
                    },
                )
            retried += 1
        if retried:
            self.message_user(
                request,
                f"Queued {retried} email{'s' if retried != 1 else ''} again.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "Nothing to send again: only failed emails are retried.")

    @admin.display(description="last error")
    def short_error(self, obj: Notification) -> str:
        error = obj.last_error
        return error if len(error) <= 60 else f"{error[:59]}…"

    @admin.display(description="text")
    def text_body(self, obj: Notification) -> str:
        if obj.carries_a_link and obj.state != Notification.State.SENT:
            return (
                "Not shown: it carries a single-use link (an invitation), which ops must not see."
            )
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.body_text)
