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
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from telemetry.models import UsageRecord

HOUR = timedelta(hours=1)
# Beyond this many separate hour ranges, one [first, last] range is cheaper to express.
_MAX_RANGES = 24


@dataclass(frozen=True)
class Batch:
    lo_id: int  # exclusive
    hi_id: int  # inclusive
    now: datetime
    hours: tuple[datetime, ...] = field(default=())
    # Work shared by several rules within one pass (see sightings.collect_values).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def between(cls, lo_id: int, hi_id: int, *, now: datetime | None = None) -> "Batch":
        rows = UsageRecord.objects.filter(id__gt=lo_id, id__lte=hi_id)
        hours = (
            rows.annotate(hour=TruncHour("created_at"))
            .values_list("hour", flat=True)
            .order_by("hour")
            .distinct()
        )
        return cls(lo_id, hi_id, now or timezone.now(), tuple(hours))

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
