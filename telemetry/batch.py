"""A slice of the usage log for one detection pass, and the few SQL helpers the passes share.

A batch is the rows with `lo_id < id <= hi_id`. Rules aggregate over it in the database;
some (bursts, roll-ups) recount whole hours the batch touched, so a burst that straddles two
passes is still counted in one piece.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from telemetry.models import UsageRecord

_USAGE = UsageRecord._meta.db_table

HOUR = timedelta(hours=1)
# Beyond this many separate hour ranges, one [first, last] range is cheaper to express.
_MAX_RANGES = 24


@dataclass(frozen=True)
class Batch:
    lo_id: int  # exclusive
    hi_id: int  # inclusive
    now: datetime
    hours: tuple[datetime, ...] = field(default=())
    # Work shared by several rules within one pass (see summarize, sightings.collect_values).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def between(cls, lo_id: int, hi_id: int, *, now: datetime | None = None) -> "Batch":
        unsized = cls(lo_id, hi_id, now or timezone.now())
        summary = summarize(unsized)
        hours = [
            as_datetime(row["hour"])
            for row in fetch(f"SELECT DISTINCT hour FROM {summary} ORDER BY hour", [])  # noqa: S608
        ]
        # The same memo: the summary just built belongs to this batch too.
        return cls(lo_id, hi_id, unsized.now, tuple(hours), memo=unsized.memo)

    @property
    def empty(self) -> bool:
        return self.hi_id <= self.lo_id or not self.hours

    def rows(self) -> QuerySet[UsageRecord]:
        return UsageRecord.objects.filter(id__gt=self.lo_id, id__lte=self.hi_id)

    def hour_ranges(self) -> list[tuple[datetime, datetime]]:
        """The touched hours as few [start, end) ranges."""
        ranges: list[list[datetime]] = []
        for hour in self.hours:
            if ranges and ranges[-1][1] == hour:
                ranges[-1][1] = hour + HOUR
            else:
                ranges.append([hour, hour + HOUR])
        if len(ranges) > _MAX_RANGES:
            return [(ranges[0][0], ranges[-1][1])]
        return [(start, end) for start, end in ranges]

    def in_touched_hours(self, field_name: str = "created_at") -> Q:
        condition = Q(pk__in=[])
        for start, end in self.hour_ranges():
            condition |= Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
        return condition

    def touched_hours_sql(self, column: str = "created_at") -> tuple[str, list[Any]]:
        parts, params = [], []
        for start, end in self.hour_ranges():
            parts.append(f"({column} >= %s AND {column} < %s)")
            params += [db_datetime(start), db_datetime(end)]
        return "(" + (" OR ".join(parts) or "1 = 0") + ")", params

    def reportable(self, moment: datetime, max_age_hours: float) -> bool:
        return moment >= self.now - timedelta(hours=max_age_hours)


# --- One aggregate scan per batch ---------------------------------------------------------------

SUMMARY = "qg_batch_summary"
_summary_holds: object = None


def summarize(batch: Batch) -> str:
    """Group the batch's rows once, by every column a rule looks at, into a temporary table.

    A 2,000,000-row batch of partner traffic folds into a few tens of thousands of rows (one per
    token, hour, IP, country, user agent, status, prefix and failure reason), so the rules, the
    sightings and the roll-up's token list read that instead of each scanning the batch again.
    Returns the table's name. Temporary tables are never WAL-logged and vanish with the
    connection; the marker says whether the table still holds *this* batch (another batch may
    have been summarised on the same connection since).
    """
    global _summary_holds
    marker = batch.memo.get("summary")
    if marker is not None and marker is _summary_holds:
        return SUMMARY
    timestamp = "timestamptz" if is_postgres() else "datetime"
    ip_type = "inet" if is_postgres() else "varchar(39)"
    execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {SUMMARY} (token_id bigint, organization_id bigint, "
        f"hour {timestamp}, ip {ip_type}, country varchar(2), user_agent varchar(300), "
        "status smallint, token_prefix varchar(8), auth_failure varchar(32), requests bigint, "
        f"first_at {timestamp}, last_at {timestamp})",
        [],
    )
    execute(f"{'TRUNCATE' if is_postgres() else 'DELETE FROM'} {SUMMARY}", [])
    hour = hour_sql("u.created_at")
    execute(
        f"""
        INSERT INTO {SUMMARY} (token_id, organization_id, hour, ip, country, user_agent, status,
                               token_prefix, auth_failure, requests, first_at, last_at)
        SELECT u.token_id, u.organization_id, {hour}, u.ip, u.country, u.user_agent, u.status,
               u.token_prefix, u.auth_failure, COUNT(*), MIN(u.created_at), MAX(u.created_at)
        FROM {_USAGE} u
        WHERE u.id > %s AND u.id <= %s
        GROUP BY u.token_id, u.organization_id, {hour}, u.ip, u.country, u.user_agent, u.status,
                 u.token_prefix, u.auth_failure
        """,  # noqa: S608 (constant identifiers; values are parameters)
        [batch.lo_id, batch.hi_id],
    )
    if is_postgres():
        execute(f"ANALYZE {SUMMARY}", [])  # autovacuum never analyses temporary tables
    batch.memo["summary"] = _summary_holds = object()
    return SUMMARY


# --- SQL dialect ------------------------------------------------------------------------------


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def hour_sql(column: str) -> str:
    if is_postgres():
        return f"date_trunc('hour', {column})"
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {column})"


def ip_text_sql(column: str = "ip") -> str:
    return f"host({column})" if is_postgres() else column


def db_datetime(value: datetime) -> Any:
    """A datetime as the database driver wants it in a raw query (SQLite stores UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a raw query (SQLite returns text for computed columns)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def fetch(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
