"""Every change to an organisation's webhook endpoints: each is an audit event.

Views, admin actions and tests call these; none repeats their steps.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from core.errors import ServiceError
from tokens.actors import Actor
from tokens.models import AuditEvent
from tokens.services.audit import record_audit_event
from webhooks import secrets
from webhooks.catalogue import NAMES, TEST
from webhooks.delivery import enqueue_on_commit
from webhooks.disabling import disable_endpoint
from webhooks.events import emit
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.urlcheck import WebhookUrlError, check_url

ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS_PER_ORG = 20

__all__ = ["disable_endpoint"]


class WebhookError(ServiceError):
    pass


def _valid_url(url: str) -> str:
    try:
        return check_url(url)
    except WebhookUrlError as error:
        raise WebhookError(error.message, code=error.code, field="url") from error


def _valid_types(event_types: list[str]) -> list[str]:
    chosen = [name for name in dict.fromkeys(event_types)]
    unknown = [name for name in chosen if name not in NAMES]
    if unknown or not chosen:
        raise WebhookError(
            "Choose at least one of the event types offered.",
            code="webhook_event_types",
            field="event_types",
        )
    return chosen


def _audit(action: str, endpoint: WebhookEndpoint, actor: Actor, **details) -> None:
    record_audit_event(
        action=action,
        actor=actor,
        organization_id=endpoint.organization_id,
        details={"endpoint_id": endpoint.id, "url": endpoint.url[:200], **details},
    )


def create_endpoint(
    organization: Organization,
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once; stored encrypted)."""
    url, event_types = _valid_url(url), _valid_types(event_types)
    if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS_PER_ORG:
        raise WebhookError(
            f"An organisation can have at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints.",
            code="webhook_limit",
        )
    secret = secrets.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            description=description[:200],
            event_types=event_types,
            secret_encrypted=secrets.encrypt(secret),
            secret_hint=secrets.hint(secret),
            created_by=actor.user,
        )
        _audit(AuditEvent.Action.WEBHOOK_CREATED, endpoint, actor, event_types=event_types)
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint,
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: Actor,
) -> WebhookEndpoint:
    url, event_types = _valid_url(url), _valid_types(event_types)
    changed = {
        name: value
        for name, value in (
            ("url", url),
            ("event_types", event_types),
            ("description", description[:200]),
        )
        if getattr(endpoint, name) != value
    }
    if not changed:
        return endpoint
    with transaction.atomic():
        for name, value in changed.items():
            setattr(endpoint, name, value)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=[*changed, "updated_at"])
        _audit(AuditEvent.Action.WEBHOOK_UPDATED, endpoint, actor, changed=sorted(changed))
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, *, actor: Actor) -> str:
    """A new secret; the old one keeps signing (a second v1=) for 24 hours."""
    secret = secrets.new_secret()
    now = timezone.now()
    with transaction.atomic():
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
        endpoint.secret_encrypted = secrets.encrypt(secret)
        endpoint.secret_hint = secrets.hint(secret)
        endpoint.updated_at = now
        endpoint.save(
            update_fields=[
                "previous_secret_encrypted",
                "previous_secret_expires_at",
                "secret_encrypted",
                "secret_hint",
                "updated_at",
            ]
        )
        _audit(
            AuditEvent.Action.WEBHOOK_SECRET_ROTATED,
            endpoint,
            actor,
            old_secret_valid_until=endpoint.previous_secret_expires_at.isoformat(),
        )
    return secret


def enable_endpoint(endpoint: WebhookEndpoint, *, actor: Actor) -> bool:
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(id=endpoint.id, disabled_at__isnull=False).update(
            disabled_at=None, disabled_reason="", failing_since=None, updated_at=timezone.now()
        )
        if changed:
            endpoint.disabled_at, endpoint.disabled_reason = None, ""
            _audit(AuditEvent.Action.WEBHOOK_ENABLED, endpoint, actor)
    return changed == 1


def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Actor) -> None:
    """Gone with its deliveries; the audit log keeps that it existed."""
    with transaction.atomic():
        _audit(AuditEvent.Action.WEBHOOK_DELETED, endpoint, actor)
        endpoint.delete()


def resend_delivery(delivery: WebhookDelivery) -> bool:
    """Send a finished delivery again (same event id, same Quaygate-Delivery), with a fresh
    24-hour retry window. False when it is still in flight or its endpoint is disabled."""
    now = timezone.now()
    window = timedelta(seconds=settings.QUAYGATE["WEBHOOK_RETRY_WINDOW_SECONDS"])
    with transaction.atomic():
        changed = WebhookDelivery.objects.filter(
            id=delivery.id,
            state__in=[WebhookDelivery.State.DELIVERED, WebhookDelivery.State.FAILED],
            endpoint__disabled_at__isnull=True,
        ).update(
            state=WebhookDelivery.State.PENDING,
            next_attempt_at=now,
            retry_until=now + window,
            lease_expires_at=None,
        )
        if changed:
            enqueue_on_commit(delivery.id)
    return changed == 1


def send_test_event(endpoint: WebhookEndpoint, *, actor: Actor) -> WebhookDelivery | None:
    """A `webhook.test` event to this endpoint only, whatever it subscribes to."""
    if not endpoint.is_enabled:
        raise WebhookError("Enable the endpoint before sending it a test event.", code="disabled")
    with transaction.atomic():
        event = emit(
            organization_id=endpoint.organization_id,
            event_type=TEST,
            data={"message": "A test event from Quaygate", "sent_by": actor.label},
            endpoint_ids=[endpoint.id],
        )
    return event.deliveries.get() if event else None
