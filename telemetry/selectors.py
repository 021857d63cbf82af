"""Reads of the usage log for the portal and the admin, with tenancy built in."""

from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import Membership, User
from telemetry.models import Anomaly, UsageHourly, UsageRecord
from tokens.models import PersonalAccessToken


def hourly_usage(token: PersonalAccessToken, *, since: datetime | None = None) -> QuerySet:
    """The token's hourly roll-ups, oldest first (the portal's chart)."""
    since = since or timezone.now() - timedelta(days=14)
    return UsageHourly.objects.filter(token=token, hour__gte=since).order_by("hour")


def usage_totals(token: PersonalAccessToken, *, since: datetime | None = None) -> dict[str, int]:
    since = since or timezone.now() - timedelta(days=30)
    totals = hourly_usage(token, since=since).aggregate(
        requests=Sum("requests"),
        ok=Sum("status_2xx"),
        client_errors=Sum("status_4xx"),
        server_errors=Sum("status_5xx"),
    )
    return {name: value or 0 for name, value in totals.items()}


# Where the latest requests are looked for first, then next; None: the whole log.
RECENT_WINDOWS = (timedelta(days=1), timedelta(days=7), None)


def recent_requests(
    token: PersonalAccessToken, *, limit: int = 50, now: datetime | None = None
) -> list[UsageRecord]:
    """The token's latest requests, newest first (index on token, -created_at).

    Looked for in the last day, then the last week, then the whole log: on PostgreSQL a time
    bound lets the planner leave out the older day partitions (~90 of them, each an index
    probe and planning work), so a token in use costs one small query; a window that reaches
    back past the token's creation is the last one needed.
    """
    now = now or timezone.now()
    newest_first = UsageRecord.objects.filter(token=token).order_by("-created_at", "-id")
    rows: list[UsageRecord] = []
    for window in RECENT_WINDOWS:
        since = None if window is None else now - window
        found = newest_first if since is None else newest_first.filter(created_at__gte=since)
        rows = list(found[:limit])
        if len(rows) == limit or since is None or since <= token.created_at:
            return rows
    return rows


def anomalies_visible_to(user: User) -> QuerySet[Anomaly]:
    """Ops see all; org admins their organisations'; members the findings on their own tokens."""
    if user.is_staff:
        return Anomaly.objects.all()
    admin_of = Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values(
        "organization_id"
    )
    return Anomaly.objects.filter(organization_id__in=admin_of) | Anomaly.objects.filter(
        token__owner=user
    )
