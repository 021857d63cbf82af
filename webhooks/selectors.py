"""Reads for the portal's webhook pages: a fixed number of queries, however many rows."""

from __future__ import annotations

from django.db.models import Count, Max, Q

from accounts.models import Organization
from webhooks.models import WebhookDelivery, WebhookEndpoint

RECENT_DELIVERIES = 50


def endpoints_with_stats(organization: Organization) -> list[WebhookEndpoint]:
    return list(
        WebhookEndpoint.objects.filter(organization=organization).annotate(
            failed_count=Count("deliveries", filter=Q(deliveries__state="failed")),
            pending_count=Count(
                "deliveries", filter=Q(deliveries__state__in=["pending", "sending"])
            ),
            last_delivery_at=Max("deliveries__last_attempt_at"),
        )
    )


def recent_deliveries(
    endpoint: WebhookEndpoint, *, limit: int = RECENT_DELIVERIES
) -> list[WebhookDelivery]:
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-created_at", "-id")[:limit]
    )
