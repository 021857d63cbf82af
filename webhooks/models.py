"""Webhook endpoints, the events sent to them, and one delivery row per (event, endpoint).

The delivery row is the outbox: it is written in the transaction that writes the event, and a
Celery task (or the sweeper, for anything a lost message or a dead worker left) sends it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class WebhookEndpointQuerySet(models.QuerySet):
    def enabled(self) -> WebhookEndpointQuerySet:
        return self.filter(disabled_at__isnull=True)


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    # Fernet-encrypted (webhooks.secrets): the secret must be recoverable to sign with.
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=12, blank=True)
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # The first failure since the last success: failing for 3 days disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["organization", "disabled_at"], name="webhook_org_idx")]

    def __str__(self) -> str:
        return self.url

    @property
    def is_enabled(self) -> bool:
        return self.disabled_at is None

    def has_previous_secret(self, now=None) -> bool:
        now = now or timezone.now()
        return bool(
            self.previous_secret_encrypted
            and self.previous_secret_expires_at
            and self.previous_secret_expires_at > now
        )


class WebhookEvent(models.Model):
    """One thing that happened, as its receivers see it. `public_id` is the payload's `id`,
    the same on every attempt and resend, so a receiver can deduplicate on it."""

    public_id = models.CharField(max_length=40, unique=True, default=new_event_id)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_events"
    )
    type = models.CharField(max_length=48)
    created_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)
    # Scans that may run twice (expiry warnings) write each event once.
    dedup_key = models.CharField(max_length=200, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # The Quaygate-Delivery header: stable across retries and resends of this delivery.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Retries stop here (24 h after the event, or after a resend).
    retry_until = models.DateTimeField()
    # A claimed row belongs to its worker until then; after, the sweeper sends it again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # the first 1 KB
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_list_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="webhook_delivery_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.state})"
