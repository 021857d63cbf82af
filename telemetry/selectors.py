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


def recent_requests(token: PersonalAccessToken, *, limit: int = 50) -> QuerySet[UsageRecord]:
    """The token's latest requests (index on token, -created_at)."""
    return UsageRecord.objects.filter(token=token).order_by("-created_at", "-id")[:limit]


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
