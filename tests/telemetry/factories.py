"""Plain helpers for crafting tokens and usage logs in telemetry tests."""

import itertools
import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Organization, User
from telemetry.models import UsageRecord
from tokens.models import PersonalAccessToken

_names = itertools.count(1)


def make_token(owner: User, organization: Organization, **fields) -> PersonalAccessToken:
    number = next(_names)
    fields.setdefault("name", f"token {number}")
    fields.setdefault("display_prefix", f"qgp_{number:04d}"[:8])
    fields.setdefault("scopes", ["fleet:read"])
    return PersonalAccessToken.objects.create(owner=owner, organization=organization, **fields)


def usage(
    token: PersonalAccessToken | None = None,
    *,
    at: datetime | None = None,
    status: int = 200,
    ip: str = "192.0.2.10",
    country: str = "NL",
    user_agent: str = "partner-sync/1.0",
    auth_failure: str = "",
    token_prefix: str | None = None,
    inserted_at: datetime | None = None,
) -> UsageRecord:
    """An unsaved usage row."""
    at = at or timezone.now()
    return UsageRecord(
        request_id=uuid.uuid4(),
        created_at=at,
        inserted_at=inserted_at or at,
        token=token,
        organization_id=token.organization_id if token else None,
        token_prefix=token.display_prefix if token and token_prefix is None else token_prefix or "",
        method="GET",
        route="api/v1/spreaders/",
        path="/api/v1/spreaders/",
        status=status,
        latency_ms=3.5,
        ip=ip,
        country=country,
        user_agent=user_agent,
        response_bytes=120,
        auth_failure=auth_failure,
    )


def records_in_stream(client, key: str) -> list[dict]:
    """Every usage record waiting in the stream at `key`, oldest first (entries hold batches)."""
    from telemetry.usage import records_in

    return [record for _, fields in client.xrange(key) for record in records_in(fields)]


def log(*rows: UsageRecord) -> list[UsageRecord]:
    return UsageRecord.objects.bulk_create(rows)


def steady_traffic(
    token: PersonalAccessToken,
    *,
    start: datetime,
    hours: int,
    per_hour: int,
    country: str = "NL",
    ip: str = "192.0.2.10",
) -> list[UsageRecord]:
    """`per_hour` requests in each of `hours` consecutive hours from `start`."""
    rows = [
        usage(
            token,
            at=start + timedelta(hours=hour, seconds=index * 3600 / max(per_hour, 1)),
            country=country,
            ip=ip,
        )
        for hour in range(hours)
        for index in range(per_hour)
    ]
    return log(*rows)


def batch_over(rows: list[UsageRecord], *, now: datetime | None = None):
    """The batch a detection pass would see for these (just inserted) rows."""
    from telemetry.batch import Batch

    ids = [row.id for row in rows]
    return Batch.between(min(ids) - 1, max(ids), now=now)


def learn(rows: list[UsageRecord]) -> None:
    """What a previous pass leaves behind: roll-ups and sightings."""
    from telemetry.rollups import roll_up_hours
    from telemetry.sightings import remember_sightings

    batch = batch_over(rows)
    roll_up_hours(batch)
    remember_sightings(batch)


def stream_record(**overrides) -> dict:
    """One usage record as the request path writes it to the Redis stream (plain JSON values)."""
    return {
        "request_id": uuid.uuid4().hex,
        "created_at": timezone.now().isoformat(),
        "token_id": None,
        "organization_id": None,
        "token_prefix": "",
        "method": "GET",
        "route": "api/v1/spreaders/",
        "path": "/api/v1/spreaders/",
        "status": 200,
        "latency_ms": 1.2,
        "ip": "8.8.8.8",
        "user_agent": "test",
        "response_bytes": 10,
        "auth_failure": "",
    } | overrides


def learn_hours(batch):
    """Roll the batch up into hourly usage, as detection does before the volume rule runs."""
    from telemetry.rollups import roll_up_hours

    roll_up_hours(batch)


def failures(count, *, now, ip="203.0.113.9", prefix="", reason="unknown_token"):
    """`count` unsaved failed authentications, a second apart, ending at `now`."""
    return [
        usage(
            None,
            at=now - timedelta(seconds=index),
            status=401,
            ip=ip,
            auth_failure=reason,
            token_prefix=prefix,
        )
        for index in range(count)
    ]
