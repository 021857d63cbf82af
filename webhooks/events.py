"""Write webhook events and their deliveries, in the transaction of what they report.

`events_from_audit` is registered with the audit log's writer (tokens.services.audit) and runs
for every saved AuditEvent, alone or in bulk: an event is written only when one of the
organisation's enabled endpoints subscribes to its type, so organisations without webhooks
pay one query per audit write and nothing else.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import delete_in_batches
from core.redaction import redact_secrets
from tokens.models import AuditEvent
from webhooks.catalogue import subscribed, type_for_audit_action
from webhooks.delivery import enqueue_on_commit
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def events_from_audit(audit_events: Sequence[AuditEvent]) -> int:
    """The audit listener. Returns how many webhook events it wrote."""
    org_ids = {event.organization_id for event in audit_events if event.organization_id}
    if not org_ids:
        return 0
    endpoints: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    rows = WebhookEndpoint.objects.enabled().filter(organization_id__in=org_ids)
    for endpoint_id, org_id, types in rows.values_list("id", "organization_id", "event_types"):
        endpoints[org_id].append((endpoint_id, types))
    if not endpoints:
        return 0
    pending: list[tuple[WebhookEvent, list[int]]] = []
    for audit in audit_events:
        event_type = type_for_audit_action(audit.action)
        # An endpoint is not told of its own creation: its receiver has no secret yet.
        own = (audit.details or {}).get("endpoint_id") if event_type == "webhook.created" else None
        targets = [
            i
            for i, types in endpoints.get(audit.organization_id, [])
            if subscribed(types, event_type) and i != own
        ]
        if targets:
            event = WebhookEvent(
                organization_id=audit.organization_id,
                type=event_type,
                created_at=audit.created_at,
                data=audit_data(audit),
            )
            pending.append((event, targets))
    return _write(pending)


def audit_data(audit: AuditEvent) -> dict[str, Any]:
    """What a receiver learns of an audit event: never a secret (details are redacted by
    shape, though no writer puts one there)."""
    token = None
    if audit.token_id or audit.token_prefix:
        token = {"id": audit.token_id, "prefix": audit.token_prefix}
    details = json.loads(redact_secrets(json.dumps(audit.details or {}, default=str)))
    return {
        "audit_event_id": audit.id,
        "action": audit.action,
        "actor": {"kind": audit.actor_kind, "label": redact_secrets(audit.actor_label)},
        "token": token,
        "ip": audit.ip,
        "details": details,
    }


def emit(
    *,
    organization_id: int,
    event_type: str,
    data: dict[str, Any],
    dedup_key: str | None = None,
    endpoint_ids: list[int] | None = None,
) -> WebhookEvent | None:
    """One event for the organisation's subscribed endpoints (or exactly `endpoint_ids`).
    None when nobody subscribes, or when `dedup_key` was written before."""
    if endpoint_ids is None:
        rows = WebhookEndpoint.objects.enabled().filter(organization_id=organization_id)
        endpoint_ids = [
            i for i, types in rows.values_list("id", "event_types") if subscribed(types, event_type)
        ]
    if not endpoint_ids:
        return None
    event = WebhookEvent(
        organization_id=organization_id, type=event_type, data=data, dedup_key=dedup_key
    )
    if dedup_key is not None:
        if WebhookEvent.objects.filter(dedup_key=dedup_key).exists():
            return None
        try:
            with transaction.atomic():
                _write([(event, endpoint_ids)])
        except IntegrityError:
            return None  # a scan running at the same time wrote it
        return event
    _write([(event, endpoint_ids)])
    return event


def _write(pending: list[tuple[WebhookEvent, list[int]]]) -> int:
    if not pending:
        return 0
    window = timedelta(seconds=settings.QUAYGATE["WEBHOOK_RETRY_WINDOW_SECONDS"])
    events = WebhookEvent.objects.bulk_create([event for event, _ in pending])
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            event=event, endpoint_id=endpoint_id, next_attempt_at=now, retry_until=now + window
        )
        for event, (_, targets) in zip(events, pending, strict=True)
        for endpoint_id in targets
    )
    enqueue_on_commit(*[delivery.id for delivery in deliveries])
    return len(events)


def purge_old_events(*, now=None, batch_size: int = 1000) -> int:
    """Forget events (and their finished deliveries) older than WEBHOOK_RETENTION_DAYS; one
    still being retried stays until it is done. Returns how many events went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.QUAYGATE["WEBHOOK_RETENTION_DAYS"])
    finished = [WebhookDelivery.State.DELIVERED, WebhookDelivery.State.FAILED]
    delete_in_batches(
        WebhookDelivery.objects.filter(event__created_at__lt=cutoff, state__in=finished),
        batch_size=batch_size,
    )
    return delete_in_batches(
        WebhookEvent.objects.filter(created_at__lt=cutoff, deliveries__isnull=True),
        batch_size=batch_size,
    )
