"""Who hears of an announcement, in SQL: the readers, and the deprecated calls of their tokens.

Readers are deduplicated by the database (one row per person, whatever number of tokens and
organisations they have); the calls are counted by it (GROUP BY token and route over the last
30 days of the usage log), so neither reads the usage log or the token table row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from accounts.models import Membership, Organization, User
from changelog.entries import Entry
from changelog.operations import Operation, operations
from telemetry.models import UsageRecord
from tokens.models import PersonalAccessToken

# How far back a call to a deprecated operation counts.
CALLS_WINDOW = timedelta(days=30)


def readers() -> QuerySet[User]:
    """Every active person who owns an active token, or administers an organisation that has
    API access (sandbox or production): each once, in id order."""
    owners = PersonalAccessToken.objects.active().values("owner_id")
    admins = (
        Membership.objects.filter(role=Membership.Role.ADMIN)
        .exclude(organization__api_access=Organization.ApiAccess.NONE)
        .values("user_id")
    )
    return (
        User.objects.filter(is_active=True)
        .filter(Q(id__in=owners) | Q(id__in=admins))
        .order_by("id")
    )


@dataclass(frozen=True, slots=True)
class DeprecatedCall:
    """One token's calls of one retiring operation in the window."""

    owner_id: int
    token_id: int
    token_name: str
    display_prefix: str
    organization: str
    operation: Operation
    calls: int
    last_called: datetime


def deprecated_calls(entry: Entry, *, now: datetime | None = None) -> list[DeprecatedCall]:
    """The active tokens that called one of `entry`'s operations in the last 30 days, with how
    often and when last: one aggregate query, ordered by owner, token, operation."""
    known = operations()
    retiring = [known[op] for op in entry.operations if op in known and known[op].route]
    if not retiring:
        return []
    since = (now or timezone.now()) - CALLS_WINDOW
    which = Q()
    for operation in retiring:
        which |= Q(method=operation.method, route=operation.route)
    live = PersonalAccessToken.objects.active().values("id")
    rows = (
        UsageRecord.objects.filter(which, created_at__gte=since, token_id__in=live)
        .values(
            "token_id",
            "token__owner_id",
            "token__name",
            "token__display_prefix",
            "token__organization__name",
            "method",
            "route",
        )
        .annotate(calls=Count("id"), last_called=Max("created_at"))
        .order_by("token__owner_id", "token__name", "token_id", "route", "method")
    )
    by_route = {(op.method, op.route): op for op in retiring}
    return [
        DeprecatedCall(
            owner_id=row["token__owner_id"],
            token_id=row["token_id"],
            token_name=row["token__name"],
            display_prefix=row["token__display_prefix"],
            organization=row["token__organization__name"],
            operation=by_route[(row["method"], row["route"])],
            calls=row["calls"],
            last_called=row["last_called"],
        )
        for row in rows
    ]
