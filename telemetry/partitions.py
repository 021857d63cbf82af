"""The usage log's daily partitions on PostgreSQL: made ahead, filled from the default, dropped.

On PostgreSQL `telemetry_usagerecord` is partitioned by range of `created_at`, one partition per
UTC day (`telemetry_usagerecord_p20261203`), plus a default partition that holds whatever falls
outside them (rows from before the conversion's first day, a clock far off). A beat task makes
the days ahead (`ensure_ahead`); retention drops whole days (`drop_before`) instead of deleting
rows: a day of a million rows goes in one catalogue change and leaves no dead tuples behind.

Partition DDL takes a short exclusive lock on the parent, so every statement here waits at most
LOCK_TIMEOUT for it: behind a long anomaly pass it gives up (the next hourly run tries again;
the days ahead leave a week's slack) instead of queueing every insert behind itself.

SQLite (the embedded default) keeps a plain table; everything here is a no-op there.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

TABLE = "telemetry_usagerecord"
DEFAULT = f"{TABLE}_default"
PREFIX = f"{TABLE}_p"
DAYS_AHEAD = 7
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Partition:
    name: str
    day: date

    @property
    def start(self) -> datetime:
        return day_start(self.day)

    @property
    def end(self) -> datetime:
        return day_start(self.day + timedelta(days=1))


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def name_for(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def daily() -> list[Partition]:
    """The day partitions that exist, oldest first (the default partition is not one)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass AND c.relname LIKE %s ORDER BY c.relname
            """,
            [TABLE, PREFIX.replace("_", r"\_") + "%"],
        )
        names = [row[0] for row in cursor.fetchall()]
    return [
        Partition(name, datetime.strptime(name[len(PREFIX) :], "%Y%m%d").date()) for name in names
    ]


def first_day_start() -> datetime | None:
    """Where the oldest day partition begins (None: no day partitions, or not partitioned)."""
    days = daily()
    return days[0].start if days else None


def ensure(first: date, last: date) -> list[str]:
    """Make a partition for every day from `first` to `last` (inclusive) that has none, moving
    any of its rows out of the default partition first. Returns the names made. A day whose
    lock did not come within LOCK_TIMEOUT is left for the next run (logged)."""
    if not is_partitioned():
        return []
    existing = {partition.day for partition in daily()}
    made = []
    day = first
    while day <= last:
        if day not in existing:
            try:
                _make(Partition(name_for(day), day))
            except OperationalError as error:
                if not _lock_timeout(error):
                    raise
                logger.warning("usage partition %s not made: the table was busy", name_for(day))
                break
            made.append(name_for(day))
        day += timedelta(days=1)
    return made


def ensure_ahead(*, today: date | None = None, days: int = DAYS_AHEAD) -> list[str]:
    """Yesterday, today and `days` ahead: the beat task's job (hourly, so a missed run is slack)."""
    today = today or datetime.now(UTC).date()
    return ensure(today - timedelta(days=1), today + timedelta(days=days))


def _make(partition: Partition) -> None:
    """One day's partition. With no rows of that day in the default partition this is one
    CREATE ... PARTITION OF; with some, the day is built beside the table, the rows moved into
    it and it is attached, in one transaction: no row is ever outside the table."""
    name, parent, default = (connection.ops.quote_name(n) for n in (partition.name, TABLE, DEFAULT))
    bounds = [partition.start, partition.end]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {default} WHERE created_at >= %s AND created_at < %s)",  # noqa: S608
            bounds,
        )
        if not cursor.fetchone()[0]:
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {parent} FOR VALUES FROM (%s) TO (%s)", bounds
            )
            return
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"""
            WITH moved AS (DELETE FROM {default} WHERE created_at >= %s AND created_at < %s
                           RETURNING *)
            INSERT INTO {name} SELECT * FROM moved
            """,  # noqa: S608 (constant identifiers; values are parameters)
            bounds,
        )
        cursor.execute(
            f"ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", bounds
        )


def drop_before(cutoff: datetime) -> tuple[int, int]:
    """Drop every day partition that ends at or before `cutoff`. Returns (partitions, rows):
    the rows are counted before each drop so retention can say what it removed."""
    dropped = rows = 0
    for partition in daily():
        if partition.end > cutoff:
            break
        try:
            rows += _drop(partition)
        except OperationalError as error:
            if not _lock_timeout(error):
                raise
            logger.warning("usage partition %s not dropped: the table was busy", partition.name)
            break
        dropped += 1
    return dropped, rows


def _drop(partition: Partition) -> int:
    name = connection.ops.quote_name(partition.name)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # Counted before the exclusive lock, which then lasts only for the catalogue change (a
        # day 90 days past gets no new rows in between).
        cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608 (a catalogue name)
        (rows,) = cursor.fetchone()
        # The parent's lock first, as inserts take it (DROP alone would take the partition's).
        cursor.execute(
            f"LOCK TABLE ONLY {connection.ops.quote_name(TABLE)} IN ACCESS EXCLUSIVE MODE"
        )
        cursor.execute(f"DROP TABLE {name}")
    return rows


def _lock_timeout(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == "55P03"  # lock_not_available
