"""Send one delivery: claim it with a lease, sign it, POST it, record what happened.

At least once: a delivery row is claimed (pending -> sending, with a lease) by a conditional
UPDATE, so two tasks for one row never both send; a worker that dies mid-send leaves the row
`sending` with a lease that runs out, and the sweeper (a beat task) sends it again. A receiver
may therefore see a delivery twice; the payload's `id` and the Quaygate-Delivery header are
the same every time, so it can tell.

Outcomes: 2xx delivered; 410 disables the endpoint; 3xx (no redirect is followed) and other
4xx fail the delivery; 429, 5xx, timeouts and connection errors are retried with exponential
backoff until `retry_until` (24 h); a refused address or an oversized response fails it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from webhooks import secrets, signing, transport
from webhooks.disabling import disable_endpoint
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)
State = WebhookDelivery.State
USER_AGENT = "Quaygate-Webhooks/1"


def _conf(name: str) -> int:
    return settings.QUAYGATE[name]


def retry_delay(attempts: int) -> float:
    base = _conf("WEBHOOK_RETRY_BASE_SECONDS")
    return float(min(base * 2 ** max(attempts - 1, 0), _conf("WEBHOOK_RETRY_MAX_SECONDS")))


def due() -> Q:
    """Rows a worker may claim now: pending and due, or sending with a lease run out."""
    now = timezone.now()
    return Q(state=State.PENDING, next_attempt_at__lte=now + timedelta(seconds=1)) | Q(
        state=State.SENDING, lease_expires_at__lt=now
    )


def claim(delivery_id: int) -> datetime | None:
    """Take the row for one attempt; the lease's end when we won, None otherwise."""
    lease = timezone.now() + timedelta(seconds=_conf("WEBHOOK_LEASE_SECONDS"))
    won = WebhookDelivery.objects.filter(due(), id=delivery_id).update(
        state=State.SENDING,
        lease_expires_at=lease,
        attempts=F("attempts") + 1,
        last_attempt_at=timezone.now(),
    )
    return lease if won == 1 else None


def payload(event: WebhookEvent) -> bytes:
    document = {
        "id": event.public_id,
        "type": event.type,
        "created": event.created_at.isoformat().replace("+00:00", "Z"),
        "organization": {"slug": event.organization.slug, "name": event.organization.name},
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    found = [secrets.decrypt(endpoint.secret_encrypted)]
    if endpoint.has_previous_secret():
        found.append(secrets.decrypt(endpoint.previous_secret_encrypted))
    return found


def headers_for(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    timestamp = int(timezone.now().timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Quaygate-Event": delivery.event.type,
        "Quaygate-Delivery": str(delivery.uuid),
        signing.HEADER: signing.header_value(signing_secrets(delivery.endpoint), timestamp, body),
    }


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: str  # "delivered", "retry", "failed", "skipped"
    retry_in: float | None = None


def deliver(delivery_id: int) -> Attempt:
    lease = claim(delivery_id)
    if lease is None:
        return Attempt("skipped")
    delivery = WebhookDelivery.objects.select_related(
        "endpoint", "event", "event__organization"
    ).get(id=delivery_id)
    if not delivery.endpoint.is_enabled:
        _ours(delivery, lease).update(
            state=State.FAILED, last_error="The endpoint is disabled", lease_expires_at=None
        )
        return Attempt("failed")
    body = payload(delivery.event)
    response = transport.post(delivery.endpoint.url, body=body, headers=headers_for(delivery, body))
    return record(delivery, lease, response)


def _ours(delivery: WebhookDelivery, lease: datetime):
    # Only while our lease holds: a sweeper that gave the row to another worker wins.
    return WebhookDelivery.objects.filter(
        id=delivery.id, state=State.SENDING, lease_expires_at=lease
    )


def _classify(response: transport.Response) -> str:
    status = response.status
    if status is None or response.error:
        return "retry" if response.retryable else "failed"
    if 200 <= status < 300:
        return "delivered"
    if status == 410:
        return "gone"
    if status == 429 or status >= 500:
        return "retry"
    return "failed"


def _error_for(response: transport.Response) -> str:
    if response.error:
        return response.error[:300]
    if response.status is not None and 300 <= response.status < 400:
        return f"HTTP {response.status}: redirects are not followed"
    if response.status is not None and not 200 <= response.status < 300:
        return f"HTTP {response.status}"
    return ""


def record(delivery: WebhookDelivery, lease: datetime, response: transport.Response) -> Attempt:
    now = timezone.now()
    kind = _classify(response)
    fields = {
        "response_status": response.status,
        "response_ms": response.elapsed_ms,
        "response_body": response.body,
        "last_error": _error_for(response),
        "lease_expires_at": None,
    }
    attempt = Attempt("failed")
    if kind == "delivered":
        fields |= {"state": State.DELIVERED, "delivered_at": now}
        attempt = Attempt("delivered")
    elif (
        kind == "retry"
        and now + timedelta(seconds=retry_delay(delivery.attempts)) < delivery.retry_until
    ):
        delay = retry_delay(delivery.attempts)
        fields |= {"state": State.PENDING, "next_attempt_at": now + timedelta(seconds=delay)}
        attempt = Attempt("retry", retry_in=delay)
    else:
        fields |= {"state": State.FAILED}
    with transaction.atomic():
        if not _ours(delivery, lease).update(**fields):
            return Attempt("skipped")
        _endpoint_health(delivery.endpoint, kind, now)
    return attempt


def _endpoint_health(endpoint: WebhookEndpoint, kind: str, now: datetime) -> None:
    endpoints = WebhookEndpoint.objects.filter(id=endpoint.id)
    if kind == "delivered":
        endpoints.update(failing_since=None, last_success_at=now)
        return
    if kind == "gone":
        disable_endpoint(endpoint, reason="The receiver answered 410 Gone", notify=True)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    endpoint.refresh_from_db(fields=["failing_since", "disabled_at"])
    limit = timedelta(days=_conf("WEBHOOK_DISABLE_AFTER_FAILING_DAYS"))
    if endpoint.is_enabled and endpoint.failing_since and now - endpoint.failing_since >= limit:
        days = _conf("WEBHOOK_DISABLE_AFTER_FAILING_DAYS")
        disable_endpoint(endpoint, reason=f"Every delivery failed for {days} days", notify=True)


@shared_task(name="webhooks.send_delivery", ignore_result=True)
def send_delivery(delivery_id: int) -> str:
    attempt = deliver(delivery_id)
    if attempt.retry_in is not None:
        try:
            send_delivery.apply_async((delivery_id,), countdown=attempt.retry_in)
        except Exception:
            logger.exception("could not schedule retry of webhook delivery %s", delivery_id)
    return attempt.outcome


def sweep(*, batch_size: int = 500) -> list[int]:
    """Enqueue every due row: retries whose message was lost, rows a dead worker held. A row
    whose worker died on every attempt until its retry window closed fails instead."""
    now = timezone.now()
    WebhookDelivery.objects.filter(
        state=State.SENDING, lease_expires_at__lt=now, retry_until__lt=now
    ).update(
        state=State.FAILED,
        lease_expires_at=None,
        last_error="The worker was lost while sending, on every attempt for 24 hours",
    )
    ids = list(
        WebhookDelivery.objects.filter(due())
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:batch_size]
    )
    _enqueue(ids)
    return ids


def enqueue_on_commit(*delivery_ids: int) -> None:
    # robust: the rows are committed; with the broker down the sweeper sends them later.
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue(delivery_ids), robust=True)


def _enqueue(delivery_ids: Iterable[int]) -> None:
    for delivery_id in delivery_ids:
        send_delivery.delay(delivery_id)
