"""The usage log's day partitions on PostgreSQL: made ahead, rows moved out of the default
partition, retention by dropping whole days, and the conversion of an existing table.

SQLite keeps a plain table: there the functions are no-ops (the last test says so).
"""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from telemetry import partitions
from telemetry.models import UsageRecord
from telemetry.rollups import purge_old_usage
from tests.telemetry.factories import log, usage

# The vendor, not the ENGINE string: PostgreSQL runs through core.postgresql's subclass.
postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the usage log is partitioned on PostgreSQL only"
)


def where(row: UsageRecord) -> str:
    """The partition a row is stored in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM telemetry_usagerecord WHERE id = %s", [row.id]
        )
        return cursor.fetchone()[0]


def today() -> datetime:
    return datetime.now(UTC)


@postgres
def test_the_table_is_partitioned_by_day_with_a_week_ahead(db):
    assert partitions.is_partitioned()
    # What the hourly beat task keeps (the migration made the same from the day it ran, which
    # a test database made before midnight UTC no longer covers).
    partitions.ensure_ahead()
    days = {partition.day for partition in partitions.daily()}
    now = today().date()
    assert {now + timedelta(days=n) for n in range(-1, 8)} <= days
    row = log(usage(at=timezone.now()))[0]
    assert where(row) == partitions.name_for(now)


@postgres
def test_a_row_of_a_day_without_a_partition_waits_in_the_default_one(db):
    row = log(usage(at=timezone.now() - timedelta(days=200)))[0]
    assert where(row) == partitions.DEFAULT


@postgres
def test_making_a_day_moves_its_rows_out_of_the_default_partition(db):
    day = (today() - timedelta(days=200)).date()
    at = partitions.day_start(day) + timedelta(hours=5)
    rows = log(usage(at=at), usage(at=at + timedelta(hours=18)), usage(at=at - timedelta(hours=6)))

    assert partitions.ensure(day, day) == [partitions.name_for(day)]

    assert [where(row) for row in rows] == [
        partitions.name_for(day),
        partitions.name_for(day),
        partitions.DEFAULT,  # the day before
    ]
    assert UsageRecord.objects.filter(id__in=[row.id for row in rows]).count() == 3
    assert partitions.ensure(day, day) == []  # made once


@postgres
def test_ensure_ahead_fills_the_gaps_up_to_a_week_ahead(db):
    far = today().date() + timedelta(days=20)
    made = partitions.ensure_ahead(today=far)
    assert made == [partitions.name_for(far + timedelta(days=n)) for n in range(-1, 8)]
    assert partitions.ensure_ahead(today=far) == []


@postgres
@pytest.mark.django_db(transaction=True)  # committed rows, as retention finds them
def test_retention_drops_whole_days_and_keeps_the_day_that_holds_the_cutoff(settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_RETENTION_DAYS": 30}
    now = today().replace(hour=12)
    cutoff = now - timedelta(days=30)
    old_days = [(cutoff - timedelta(days=n)).date() for n in (2, 1)]
    partitions.ensure(old_days[0], cutoff.date())
    dropped = log(*[usage(at=partitions.day_start(d) + timedelta(hours=3)) for d in old_days])
    same_day = log(usage(at=cutoff - timedelta(hours=1)), usage(at=cutoff + timedelta(hours=1)))
    in_default = log(usage(at=now - timedelta(days=300)))
    recent = log(usage(at=now))

    assert purge_old_usage(now=now) == 3  # two dropped days' rows and the default's old row

    names = {partition.name for partition in partitions.daily()}
    assert not names & {partitions.name_for(d) for d in old_days}
    assert partitions.name_for(cutoff.date()) in names
    left = set(UsageRecord.objects.values_list("id", flat=True))
    assert left == {row.id for row in same_day + recent}
    assert not left & {row.id for row in dropped + in_default}


@postgres
@pytest.mark.django_db(transaction=True)
def test_a_busy_table_postpones_the_drop_instead_of_queueing_inserts_behind_it(monkeypatch, caplog):
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "100ms")
    day = (today() - timedelta(days=400)).date()
    partitions.ensure(day, day)
    row = log(usage(at=partitions.day_start(day) + timedelta(hours=1)))[0]
    # A long read (an anomaly pass) holds the table in another session.
    with psycopg.connect(_dsn(), autocommit=False) as reader:
        reader.execute("SELECT count(*) FROM telemetry_usagerecord")
        assert partitions.drop_before(partitions.day_start(day + timedelta(days=1))) == (0, 0)
    assert "not dropped: the table was busy" in caplog.text
    assert UsageRecord.objects.filter(id=row.id).exists()
    assert partitions.drop_before(partitions.day_start(day + timedelta(days=1))) == (1, 1)


def _dsn() -> str:
    db = connection.settings_dict
    return (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={db['USER']} password={db['PASSWORD']}"
    )


# --- The conversion -------------------------------------------------------------------------

PLAIN = ("telemetry", "0008_usage_request_unique_with_day")
PARTITIONED = ("telemetry", "0009_usage_partitioned_by_day")


def migrate_to(target) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([target])


def relkind() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'telemetry_usagerecord'::regclass")
        return cursor.fetchone()[0]


@postgres
@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_a_table_with_rows_and_back_without_losing_one():
    if PARTITIONED not in MigrationExecutor(connection).loader.graph.nodes:
        pytest.skip("migrations are disabled (--nomigrations)")
    try:
        migrate_to(PLAIN)
        assert relkind() == "r"
        rows = _raw_rows(
            [timezone.now() - timedelta(days=d, minutes=m) for d in (0, 3, 150) for m in (1, 2)]
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(id) FROM telemetry_usagerecord")
            (highest,) = cursor.fetchone()

        migrate_to(PARTITIONED)

        assert relkind() == "p"
        assert _stored() == rows
        # Each row in its day's partition; beyond 120 days back, in the default one.
        for row in UsageRecord.objects.all():
            day = row.created_at.astimezone(UTC).date()
            old = row.created_at < timezone.now() - timedelta(days=120)
            assert where(row) == (partitions.DEFAULT if old else partitions.name_for(day))
        assert log(usage())[0].id > highest  # ids go on from the old sequence

        migrate_to(PLAIN)

        assert relkind() == "r"
        assert set(rows) <= _stored()
    finally:
        migrate_to(PARTITIONED)


def _raw_rows(moments: list[datetime]) -> set[tuple]:
    """Rows inserted the way the old schema takes them (no model: the state is migrating)."""
    with connection.cursor() as cursor:
        for at in moments:
            cursor.execute(
                """
                INSERT INTO telemetry_usagerecord (request_id, created_at, inserted_at,
                    token_prefix, method, route, path, status, latency_ms, country,
                    user_agent, response_bytes, auth_failure, sandbox)
                VALUES (%s, %s, %s, '', 'GET', 'r', '/p', 200, 1.5, 'NL', 'ua', 10, '', false)
                """,
                [uuid.uuid4(), at, at],
            )
    return _stored()


def _stored() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, request_id, created_at FROM telemetry_usagerecord")
        return set(cursor.fetchall())


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the plain table is SQLite's")
def test_sqlite_keeps_a_plain_table_and_the_partition_calls_do_nothing(db):
    assert not partitions.is_partitioned()
    assert partitions.ensure_ahead() == []
    assert partitions.drop_before(timezone.now()) == (0, 0)
    assert partitions.first_day_start() is None
