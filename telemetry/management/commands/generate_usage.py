"""Bulk-insert synthetic usage rows, fast, for benchmarks: `generate_usage --rows N --seed S`.

On PostgreSQL the rows are generated server-side (INSERT … SELECT over generate_series, seeded
with setseed) in chunks, which writes millions of rows a minute; elsewhere they are built in
Python and bulk-inserted in batches. Traffic looks like partners': each token has a home
country, three IPs and a user agent; ~1% failed authentications (no token), ~1% 403s, a few 404s
and 500s, and one request in a thousand from abroad.
"""

import random
import uuid
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from telemetry import partitions
from telemetry.models import UsageRecord
from tokens.models import PersonalAccessToken

HOMES = [("NL", "192.0.2."), ("DE", "198.51.100."), ("BE", "203.0.113."), ("GB", "192.0.2.")]
FOREIGN = ("BR", "198.18.0.")
PG_CHUNK = 1_000_000


class Command(BaseCommand):
    help = "Bulk-insert N synthetic usage rows (deterministic for a given seed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--tokens", type=int, default=50, help="How many tokens to spread over")
        parser.add_argument("--days", type=float, default=1.0, help="Spread over the last D days")
        parser.add_argument("--end", default="", help="ISO time of the newest row (default: now)")

    def handle(self, *args, rows: int, seed: int, tokens: int, days: float, end: str, **options):
        if rows <= 0:
            raise CommandError("--rows must be positive")
        end_at = parse_datetime(end) if end else timezone.now()
        if end_at is None:
            raise CommandError(f"--end {end!r} is not an ISO date-time")
        chosen = list(
            PersonalAccessToken.objects.order_by("id").values_list(
                "id", "organization_id", "display_prefix"
            )[:tokens]
        )
        if not chosen:
            raise CommandError("No tokens: run `manage.py seed_demo` (or issue a token) first")
        start_at = end_at - timedelta(days=days)
        # Rows of days without a partition would all land in the default one (PostgreSQL).
        partitions.ensure(start_at.astimezone(UTC).date(), end_at.astimezone(UTC).date())
        if connection.vendor == "postgresql":
            self._postgres(rows, seed, chosen, start_at, end_at)
        else:
            self._portable(rows, seed, chosen, start_at, end_at)
        self.stdout.write(f"Inserted {rows} usage rows over {len(chosen)} tokens")

    def _postgres(self, rows: int, seed: int, tokens: list, start_at: datetime, end_at: datetime):
        span = (end_at - start_at).total_seconds()
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS bench_tokens "
                "(idx int, token_id bigint, org_id bigint, prefix text, country text, ip text)"
            )
            cursor.execute("TRUNCATE bench_tokens")
            for index, (token_id, org_id, prefix) in enumerate(tokens):
                country, ip = HOMES[index % len(HOMES)]
                cursor.execute(
                    "INSERT INTO bench_tokens VALUES (%s, %s, %s, %s, %s, %s)",
                    [index, token_id, org_id, prefix, country, f"{ip}{index % 200 + 1}"],
                )
            cursor.execute("SELECT setseed(%s)", [((seed % 1000) / 1000.0)])
            for lo in range(1, rows + 1, PG_CHUNK):
                hi = min(lo + PG_CHUNK - 1, rows)
                with transaction.atomic():
                    cursor.execute(
                        _PG_INSERT,
                        {
                            "seed": str(seed),
                            "lo": lo,
                            "hi": hi,
                            "n": rows,
                            "k": len(tokens),
                            "start": start_at,
                            "span": span,
                            "now": timezone.now(),
                        },
                    )
                self.stdout.write(f"  {hi} rows")

    def _portable(self, rows: int, seed: int, tokens: list, start_at: datetime, end_at: datetime):
        rng = random.Random(seed)  # noqa: S311 (synthetic data, not security)
        span = (end_at - start_at).total_seconds()
        now = timezone.now()
        batch: list[UsageRecord] = []
        for number in range(rows):
            index = rng.randrange(len(tokens))
            token_id, org_id, prefix = tokens[index]
            country, ip = HOMES[index % len(HOMES)]
            ip = f"{ip}{index % 200 + 1}"
            roll = rng.random()
            failed = roll < 0.01
            if rng.random() < 0.001:
                country, ip = FOREIGN[0], f"{FOREIGN[1]}{number % 250}"
            batch.append(
                UsageRecord(
                    request_id=uuid.UUID(int=rng.getrandbits(128)),
                    created_at=start_at + timedelta(seconds=span * number / rows),
                    inserted_at=now,
                    token_id=None if failed else token_id,
                    organization_id=None if failed else org_id,
                    token_prefix=prefix,
                    method="GET",
                    route="api/v1/spreaders/<str:serial>",
                    path=f"/api/v1/spreaders/SP-{number % 50}",
                    status=_status(roll),
                    latency_ms=1 + rng.random() * 20,
                    ip=ip,
                    country=country,
                    user_agent=f"partner-sync/1.{index % 3}",
                    response_bytes=200 + rng.randrange(5000),
                    auth_failure="unknown_token" if failed else "",
                )
            )
            if len(batch) == 5000:
                UsageRecord.objects.bulk_create(batch)
                batch.clear()
        UsageRecord.objects.bulk_create(batch)


def _status(roll: float) -> int:
    if roll < 0.01:
        return 401
    if roll < 0.02:
        return 403
    if roll < 0.04:
        return 404
    if roll < 0.045:
        return 500
    return 200


_PG_INSERT = """
INSERT INTO telemetry_usagerecord (request_id, created_at, inserted_at, token_id,
    organization_id, token_prefix, method, route, path, status, latency_ms, ip, country,
    user_agent, response_bytes, auth_failure)
SELECT md5(%(seed)s || ':' || g::text)::uuid,
       %(start)s::timestamptz + ((g - 1)::float8 / %(n)s) * %(span)s * interval '1 second',
       %(now)s,
       CASE WHEN x.r < 0.01 THEN NULL ELSE t.token_id END,
       CASE WHEN x.r < 0.01 THEN NULL ELSE t.org_id END,
       t.prefix, 'GET', 'api/v1/spreaders/<str:serial>', '/api/v1/spreaders/SP-' || (g %% 50),
       CASE WHEN x.r < 0.01 THEN 401 WHEN x.r < 0.02 THEN 403 WHEN x.r < 0.04 THEN 404
            WHEN x.r < 0.045 THEN 500 ELSE 200 END,
       1 + x.r2 * 20,
       CASE WHEN x.r3 < 0.001 THEN ('198.18.0.' || (g %% 250))::inet ELSE t.ip::inet END,
       CASE WHEN x.r3 < 0.001 THEN 'BR' ELSE t.country END,
       'partner-sync/1.' || (t.idx %% 3),
       200 + (x.r2 * 5000)::int,
       CASE WHEN x.r < 0.01 THEN 'unknown_token' ELSE '' END
FROM generate_series(%(lo)s, %(hi)s) g
CROSS JOIN LATERAL (
    SELECT random() + 0 * g AS r, random() AS r2, random() AS r3,
           floor(random() * %(k)s)::int AS ti
) x
JOIN bench_tokens t ON t.idx = x.ti
"""
