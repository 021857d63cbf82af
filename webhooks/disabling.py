"""Disabling an endpoint, by a person or by Quaygate itself (410 Gone, three days failing).

Kept apart from services.py so the sender (webhooks.delivery) can call it without importing
the services that write events (which import the sender to enqueue them).
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from notifications.models import Notification
from notifications.services import queue_notification
from tokens.actors import Actor
from tokens.models import AuditEvent
from tokens.services.audit import record_audit_event
from webhooks.models import WebhookDelivery, WebhookEndpoint


def disable_endpoint(
    endpoint: WebhookEndpoint, *, reason: str, actor: Actor | None = None, notify: bool = False
) -> bool:
    """Stop sending to `endpoint`; pending deliveries fail. Returns False when it already was.
    `notify` emails the organisation's admins (Quaygate did it, nobody clicked)."""
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(id=endpoint.id, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason=reason[:300], updated_at=now
        )
        if not changed:
            return False
        endpoint.disabled_at, endpoint.disabled_reason = now, reason[:300]
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint.id, state=WebhookDelivery.State.PENDING
        ).update(state=WebhookDelivery.State.FAILED, last_error="The endpoint was disabled")
        record_audit_event(
            action=AuditEvent.Action.WEBHOOK_DISABLED,
            actor=actor or Actor.system("webhooks"),
            organization_id=endpoint.organization_id,
            details={"endpoint_id": endpoint.id, "url": endpoint.url[:200], "reason": reason},
        )
        if notify:
            _tell_admins(endpoint, reason=reason, when=now)
    return True


def _tell_admins(endpoint: WebhookEndpoint, *, reason: str, when) -> None:
    organization = endpoint.organization
    admins = Membership.objects.filter(
        organization=organization, role=Membership.Role.ADMIN, user__is_active=True
    ).select_related("user")
    page = reverse("org_webhook", args=[organization.slug, endpoint.id])
    for membership in admins:
        queue_notification(
            kind=Notification.Kind.WEBHOOK_DISABLED,
            user=membership.user,
            context={
                "organization": organization.name,
                "endpoint_url": endpoint.url[:200],
                "endpoint_page_url": page,
                "reason": reason,
                "when": when,
            },
            dedup_key=f"webhook_disabled:{endpoint.id}:{membership.user_id}:{when.isoformat()}",
        )
