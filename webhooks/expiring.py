"""`token.expiring` events: the expiry warnings' windows (tokens.expiry), for webhooks.

A beat task runs this hourly. Only organisations with an endpoint that subscribes are scanned;
each (token, warning, expiry date) is one event however often the scan runs (its dedup key).
Unlike the reminder emails this does not depend on the owner's email preference.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from tokens.expiry import windows
from tokens.models import PersonalAccessToken
from webhooks.catalogue import subscribed
from webhooks.events import emit
from webhooks.models import WebhookEndpoint

TYPE = "token.expiring"


def subscribed_organizations() -> set[int]:
    rows = WebhookEndpoint.objects.enabled().values_list("organization_id", "event_types")
    return {org_id for org_id, types in rows if subscribed(types, TYPE)}


def emit_expiring_tokens(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    org_ids = subscribed_organizations()
    if not org_ids:
        return 0
    written = 0
    for window in windows(now):
        if window.days is None:
            continue  # "expired" is the audit log's token.expired
        tokens = PersonalAccessToken.objects.filter(
            organization_id__in=org_ids,
            revoked_at__isnull=True,
            expires_at__gt=window.after,
            expires_at__lte=window.until,
            created_at__lt=F("expires_at") - timedelta(days=window.days),
        ).only("id", "name", "display_prefix", "expires_at", "organization_id", "owner_id")
        for token in tokens.iterator(chunk_size=500):
            written += (
                emit(
                    organization_id=token.organization_id,
                    event_type=TYPE,
                    data={
                        "token": {
                            "id": token.id,
                            "prefix": token.display_prefix,
                            "name": token.name,
                        },
                        "expires_at": token.expires_at.isoformat(),
                        "warning_days": window.days,
                    },
                    dedup_key=f"{TYPE}:{token.id}:{window.days}:{token.expires_at.date().isoformat()}",
                )
                is not None
            )
    return written
