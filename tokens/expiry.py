"""The expiry notices: "expires in 30 / 7 / 1 days" warnings and "expired" on the day.

Run by a beat task every hour. Each pass reads only the live tokens whose expiry falls in a few
narrow windows, through the partial index `token_live_expiry_idx` (expires_at, revoked_at IS
NULL), in keyset-paginated batches; the dedup key makes every notice exist once however often
the scan runs or overlaps with itself.

Windows, for each warning of d days: expires_at in (now + max(next smaller warning, d -
LOOKBACK), now + d]. So a token with 3 days left gets its 7-day warning (if it lived longer
than 7 days), never a late 30-day one, and the scan can be down for LOOKBACK without missing a
warning. The expired notice covers (now - LOOKBACK, now].
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.db.models.expressions import CombinedExpression
from django.utils import timezone

from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens.models import PersonalAccessToken
from tokens.recipients import token_notices

WARNING_DAYS = (30, 7, 1)
LOOKBACK = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    days: int | None  # the warning, or None for the expired notice
    after: datetime  # exclusive
    until: datetime  # inclusive


def windows(now: datetime) -> list[Window]:
    found = []
    thresholds = sorted(WARNING_DAYS, reverse=True)
    for position, days in enumerate(thresholds):
        smaller = thresholds[position + 1] if position + 1 < len(thresholds) else 0
        lower = max(timedelta(days=smaller), timedelta(days=days) - LOOKBACK)
        found.append(
            Window(Notification.Kind.TOKEN_EXPIRING, days, now + lower, now + timedelta(days=days))
        )
    found.append(Window(Notification.Kind.TOKEN_EXPIRED, None, now - LOOKBACK, now))
    return found


def expiring_dedup_key(token: PersonalAccessToken, days: int) -> str:
    # The expiry date is part of the key: a token whose expiry moves gets its warnings again.
    return f"token_expiring:{token.id}:{days}:{token.expires_at.date().isoformat()}"


def expired_dedup_key(token: PersonalAccessToken) -> str:
    """Shared with anyone else who announces the expiry (tokens.services), so it goes once."""
    return f"token_expired:{token.id}:{token.expires_at.date().isoformat()}"


def send_expiry_notices(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Queue every due expiry warning and expired notice. Returns how many it queued."""
    now = now or timezone.now()
    queued = 0
    for window in windows(now):
        for batch in _batches(window, batch_size=batch_size):
            requests = [notice for token in batch for notice in _requests(token, window, now)]
            queued += queue_notifications(requests)
    return queued


def _tokens_in(window: Window):
    tokens = PersonalAccessToken.objects.filter(
        # revoked_at IS NULL and the expires_at range: the partial index token_live_expiry_idx.
        revoked_at__isnull=True,
        expires_at__gt=window.after,
        expires_at__lte=window.until,
    ).filter(
        # A personal token's owner, if they still want reminders (opt-out; the portal's toggle
        # sets this). A service token's notices go to its contact (tokens.recipients).
        Q(owner__is_active=True, owner__wants_expiry_reminders=True)
        | Q(service_account__isnull=False)
    )
    if window.days is not None:
        # Only when the token lived longer than the warning: a 5-day token gets no 7-day one.
        tokens = tokens.filter(created_at__lt=_minus_days(window.days))
    return tokens.select_related("owner", "organization", "service_account__contact").only(
        "id",
        "organization_id",
        "service_account__name",
        "service_account__contact",
        "name",
        "display_prefix",
        "kind",
        "expires_at",
        "created_at",
        "owner__id",
        "owner__email",
        "owner__full_name",
        "organization__name",
        *(f"service_account__contact__{field}" for field in ("id", "email", "full_name")),
        "service_account__contact__is_active",
    )


def _minus_days(days: int) -> CombinedExpression:
    return F("expires_at") - timedelta(days=days)


def _batches(window: Window, *, batch_size: int) -> Iterator[list[PersonalAccessToken]]:
    """Keyset pagination on (expires_at, id): each batch is one index range scan."""
    tokens = _tokens_in(window).order_by("expires_at", "id")
    after: tuple[datetime, int] | None = None
    while True:
        page = tokens
        if after is not None:
            page = tokens.filter(
                Q(expires_at__gt=after[0]) | Q(expires_at=after[0], id__gt=after[1])
            )
        batch = list(page[:batch_size])
        if batch:
            yield batch
        if len(batch) < batch_size:
            return
        after = (batch[-1].expires_at, batch[-1].id)


def _requests(
    token: PersonalAccessToken, window: Window, now: datetime
) -> Iterator[NotificationRequest]:
    context = {
        "token_name": token.name,
        "display_prefix": token.display_prefix,
        "token_kind": token.get_kind_display(),
        "organization": token.organization.name,
        "expires_at": token.expires_at,
        "token_url": f"/tokens/{token.id}/",
    }
    if window.days is None:
        return token_notices(
            token,
            kind=Notification.Kind.TOKEN_EXPIRED,
            context=context,
            dedup_key=expired_dedup_key(token),
        )
    # What the owner reads: whole days left, rounded up ("expires in 1 day" with 5 hours left).
    days_left = max(1, math.ceil((token.expires_at - now) / timedelta(days=1)))
    return token_notices(
        token,
        kind=Notification.Kind.TOKEN_EXPIRING,
        context=context | {"days": days_left},
        dedup_key=expiring_dedup_key(token, window.days),
    )
