"""Bulk data for the benchmark, generated inside PostgreSQL with a fixed seed.

Each generator is one INSERT … SELECT over generate_series: no row travels through Python, so
a million tokens take seconds, not minutes. The values are a pure function of the row number
(and of setseed for the random parts), so two runs build the same data.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from fleet.models import Spreader, Terminal

READINGS_DAYS = 30
BENCH_PLAN_RATE = 1_000_000  # tokens.services.MAX_RATE_LIMIT
BENCH_PLAN_TOKENS = 10_000  # tokens.services.access.MAX_PLAN_TOKENS
READINGS_PER_DAY = 24 * 60  # one a minute: 43,200 rows in 30 days
# GET /api/v1/spreaders is measured on a full page: the default page size is 50.
BENCH_SPREADERS = 50


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise RuntimeError("The benchmark generators need PostgreSQL (DATABASE_URL)")


@contextmanager
def bulk_load(table: str) -> Iterator[None]:
    """Load a big table the way a restore does: secondary indexes and unique constraints
    dropped for the load and rebuilt once at the end (sorted builds instead of ten million
    random inserts into a uuid index), and foreign-key triggers off for this session (the
    generated rows point at rows that exist). The table ends exactly as the migrations left it.

    For the throwaway benchmark database only: on a shared database it would hide the indexes
    from everyone else for the length of the load.
    """
    require_postgresql()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = %s::regclass AND contype = 'u'
            """,
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = %s AND i.schemaname = current_schema()
              AND i.indexname NOT IN (
                  SELECT conname FROM pg_constraint
                  WHERE conrelid = %s::regclass AND contype IN ('p', 'u'))
            """,
            [table, table],
        )
        indexes = cursor.fetchall()
        quoted = connection.ops.quote_name(table)
        for name, _ in constraints:
            cursor.execute(
                f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}"
            )
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in indexes:
                # A partitioned table's own index reads "ON ONLY": made so, it would not
                # reach the partitions.
                cursor.execute(definition.replace(" ON ONLY ", " ON "))
            for name, definition in constraints:
                cursor.execute(
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} "
                    f"{definition}"
                )
            cursor.execute("RESET maintenance_work_mem")
            cursor.execute(f"ANALYZE {quoted}")


@dataclass(frozen=True)
class BenchOrg:
    organization: Organization
    admin: User
    terminal: Terminal
    spreader: Spreader


def bench_org() -> BenchOrg:
    """The organisation the HTTP benchmark's tokens belong to: one admin, one terminal and
    BENCH_SPREADERS spreaders on it; `spreader` (the first) carries the readings."""
    with transaction.atomic():
        org, _ = Organization.objects.get_or_create(
            slug="bench-port", defaults={"name": "Bench Port", "api_access": "production"}
        )
        # The bench measures the API, not the plan (issue 15): no ceiling below the bench
        # token's limit, and room for the tokens every run issues.
        Organization.objects.filter(pk=org.pk).update(
            plan_rate_limit_per_hour=BENCH_PLAN_RATE, plan_max_active_tokens=BENCH_PLAN_TOKENS
        )
        # issue_token checks the plan on the instance it is given: give it the plan just set.
        org.refresh_from_db()
        admin, created = User.objects.get_or_create(
            email="bench-admin@bench.example", defaults={"full_name": "Bench Admin"}
        )
        if created:
            admin.set_unusable_password()
            admin.save(update_fields=["password"])
        Membership.objects.get_or_create(
            user=admin, organization=org, defaults={"role": Membership.Role.ADMIN}
        )
        terminal, _ = Terminal.objects.get_or_create(
            organization=org,
            code="BEN-T1",
            defaults={"name": "Bench Terminal", "country": "NL", "time_zone": "Europe/Amsterdam"},
        )
        spreader, _ = Spreader.objects.get_or_create(
            serial_number="BEN-T1-001",
            defaults={
                "terminal": terminal,
                "model": "Bromma STS45",
                "commissioned_at": datetime(2020, 1, 1).date(),
            },
        )
        _more_spreaders(terminal, count=BENCH_SPREADERS)
    return BenchOrg(org, admin, terminal, spreader)


def _more_spreaders(terminal: Terminal, *, count: int) -> None:
    """Spreaders BEN-T1-002 … up to `count` on the bench terminal (existing ones kept)."""
    Spreader.objects.bulk_create(
        [
            Spreader(
                terminal=terminal,
                serial_number=f"{terminal.code}-{number:03d}",
                model=("Bromma STS45", "Bromma STS55", "Stinis Twin")[number % 3],
                commissioned_at=datetime(2020, 1, 1).date() + timedelta(days=number),
            )
            for number in range(2, count + 1)
        ],
        ignore_conflicts=True,
    )


def generate_readings(spreader: Spreader, *, end: datetime, days: int = READINGS_DAYS) -> int:
    """One reading a minute for `days` days up to `end` (43,200 rows for 30 days)."""
    require_postgresql()
    rows = days * READINGS_PER_DAY
    start = end - timedelta(minutes=rows)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM api_telemetryreading WHERE spreader_id = %s", [spreader.id])
        cursor.execute(
            """
            INSERT INTO api_telemetryreading (spreader_id, recorded_at, twistlock_cycles, lifts,
                load_tonnes, hydraulic_pressure_bar, oil_temperature_c, operating_hours)
            SELECT %(spreader)s,
                   %(start)s::timestamptz + g * interval '1 minute',
                   100000 + g * 2,
                   50000 + g,
                   20 + 20 * abs(sin(g / 37.0)),
                   180 + 30 * sin(g / 97.0),
                   55 + 15 * sin(g / 1440.0 * 2 * pi()),
                   10000 + g / 60.0
            FROM generate_series(1, %(rows)s) g
            """,
            {"spreader": spreader.id, "start": start, "rows": rows},
        )
        cursor.execute("ANALYZE api_telemetryreading")
    return rows


def _expiry_owners(*, owners: int, now: datetime) -> Organization:
    """The expiry bench's organisation and its `owners` members, made in SQL."""
    with transaction.atomic(), connection.cursor() as cursor:
        org, _ = Organization.objects.get_or_create(
            slug="bench-expiry", defaults={"name": "Bench Expiry Port", "api_access": "production"}
        )
        cursor.execute(
            """
            INSERT INTO portal_user (password, email, full_name, is_superuser, is_staff,
                is_active, date_joined, wants_expiry_reminders, two_factor_enabled)
            SELECT '!', 'expiry-' || g || '@bench.example', 'Expiry Owner ' || g, false, false,
                   true, %(now)s, true, false
            FROM generate_series(1, %(owners)s) g
            ON CONFLICT (email) DO NOTHING
            """,
            {"owners": owners, "now": now},
        )
        cursor.execute(
            """
            INSERT INTO portal_membership (user_id, organization_id, role, created_at)
            SELECT u.id, %(org)s, 'member', %(now)s FROM portal_user u
            WHERE u.email LIKE 'expiry-%%@bench.example'
            ON CONFLICT DO NOTHING
            """,
            {"org": org.id, "now": now},
        )
        cursor.execute("ANALYZE portal_user")
    return org


def generate_tokens(*, count: int, owners: int = 1000, now: datetime | None = None) -> int:
    """`count` tokens over `owners` new users of one new organisation, for the expiry scan.

    Expiry dates are spread evenly from 30 days ago to a year ahead, so the scan finds a few
    percent of them due (30/7/1-day warnings, expired); one in ten is revoked. No secrets:
    the scan never looks at them.
    """
    require_postgresql()
    now = now or timezone.now()
    org = _expiry_owners(owners=owners, now=now)
    with (
        transaction.atomic(),
        bulk_load("tokens_personalaccesstoken"),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            """
            WITH owners AS (
                SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id FROM portal_user
                WHERE email LIKE 'expiry-%%@bench.example'
            )
            INSERT INTO tokens_personalaccesstoken (name, description, display_prefix, scopes,
                terminal_access, allowed_ips, rate_limit_per_hour, notify_on_new_ip, expires_at,
                created_at, created_user_agent, recent_ips, revoked_at, revoked_by_kind,
                revocation_reason, organization_id, owner_id, kind, approval, approval_note,
                justification)
            SELECT 'bench token ' || (g + (SELECT coalesce(max(id), 0) FROM tokens_personalaccesstoken)), '', 'qgp_' || lpad(to_hex(g %% 65536), 4, '0'),
                   '["fleet:read"]'::jsonb, 'all', '[]'::jsonb, NULL, false,
                   -- 430 days of expiry dates, a prime stride so neighbours are far apart
                   %(now)s::timestamptz - interval '30 days'
                       + ((g::bigint * 7919) %% (430 * 24 * 60)) * interval '1 minute',
                   %(now)s::timestamptz - interval '400 days', '', '[]'::jsonb,
                   CASE WHEN g %% 10 = 0 THEN %(now)s::timestamptz - interval '1 day' END,
                   CASE WHEN g %% 10 = 0 THEN 'owner' ELSE '' END,
                   '', %(org)s, o.id, 'production', '', '', ''
            FROM generate_series(1, %(count)s) g
            JOIN owners o ON o.idx = g %% (SELECT count(*) FROM owners)
            """,
            {"count": count, "now": now, "org": org.id},
        )
        return cursor.rowcount
