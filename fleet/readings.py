"""A spreader's telemetry over a window: raw readings, or hourly / daily buckets.

Buckets are aggregated in SQL (GROUP BY the truncated time, MIN/AVG/MAX per metric), so a year
of readings never crosses the wire. Django's Trunc works the same on SQLite and PostgreSQL.
A bucket without readings is left out.

Buckets follow a time zone (UTC unless asked; `tz=terminal` is the spreader's terminal's):
a day starts at local midnight, so the days on which the clocks change last 23 or 25 hours.
An hour is a real hour starting on a whole local hour: it is truncated at a fixed offset (the
zone's offset modulo one hour), never at the zone's wall clock, whose repeated hour in
autumn would fold two real hours into one bucket.

Bounds, checked before any query: the window per resolution, and so the number of points.
Raw readings have no fixed spacing, so their count is bounded by reading one row past the
limit: more than that is a 400 that says to narrow the window or use buckets.
"""

from __future__ import annotations

import functools
import logging
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import Any

from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import Trunc

from fleet.exceptions import FleetInputError
from fleet.models import TelemetryReading

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = (
    "twistlock_cycles",
    "lifts",
    "load_tonnes",
    "hydraulic_pressure_bar",
    "oil_temperature_c",
    "operating_hours",
)
MAX_POINTS = 5000


class Resolution(StrEnum):
    RAW = "raw"
    HOUR = "hour"
    DAY = "day"


BUCKET = {Resolution.HOUR: timedelta(hours=1), Resolution.DAY: timedelta(days=1)}
# Hourly: 180 days = 4,320 buckets; daily: 10 years = 3,653 buckets; both under MAX_POINTS.
MAX_WINDOW = {
    Resolution.RAW: timedelta(days=7),
    Resolution.HOUR: timedelta(days=180),
    Resolution.DAY: timedelta(days=3653),
}
DEFAULT_WINDOW = timedelta(hours=24)

# The `tz` parameter: these two words, or an IANA zone name.
TZ_UTC = "utc"
TZ_TERMINAL = "terminal"
UNKNOWN_ZONE = (
    "Unknown time zone. Use utc, terminal (the spreader's terminal's zone) or an IANA name "
    "such as Europe/Amsterdam."
)


# Files in the zone database that are not zones (`localtime` is this server's own clock).
_NOT_ZONES = frozenset({"localtime", "posixrules"})


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA name `tz` takes: those this server knows (scanned once, ~0.1 s)."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def zone_named(name: str) -> tzinfo | None:
    """The zone called `name`, or None. Only names from the IANA list: ZoneInfo alone would
    also open files such as `localtime`, and PostgreSQL must know the name too."""
    if name in (TZ_UTC, "UTC"):
        return UTC
    if name not in zone_names():
        return None
    return zoneinfo.ZoneInfo(name)


def zone_for(tz: str, *, terminal_zone: str) -> tzinfo:
    """The zone a `tz` parameter asks for: `utc`, `terminal` or an IANA name."""
    if tz != TZ_TERMINAL:
        zone = zone_named(tz)
        if zone is None:
            raise FleetInputError(UNKNOWN_ZONE, code="unknown_time_zone", field="tz")
        return zone
    zone = zone_named(terminal_zone)
    if zone is None:
        # Bad fleet data is not the client's fault: answer in UTC, and say so (`time_zone`).
        logger.warning(
            "Terminal time zone %r is unknown; telemetry falls back to UTC", terminal_zone
        )
        return UTC
    return zone


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or "UTC"


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime
    resolution: Resolution
    metrics: tuple[str, ...]
    zone: tzinfo = UTC


def window(
    *,
    since: datetime | None,
    until: datetime | None,
    resolution: str,
    metrics: tuple[str, ...] = METRICS,
    zone: tzinfo = UTC,
    now: datetime | None = None,
) -> Window:
    """The validated window: defaults filled in, order and size checked."""
    resolution = Resolution(resolution)
    until = until or (now or datetime.now(UTC))
    try:
        since = since or until - DEFAULT_WINDOW
    except OverflowError:  # `until` in the first day of year 1
        raise FleetInputError(
            "Give `since` too, or a later `until`.", code="out_of_range", field="until"
        ) from None
    if since >= until:
        raise FleetInputError("`since` must be before `until`.", code="empty_window", field="since")
    longest = MAX_WINDOW[resolution]
    if until - since > longest:
        raise FleetInputError(
            f"At resolution {resolution} the window may span at most {longest.days} days. "
            f"Narrow it{_coarser_hint(resolution)}.",
            code="window_too_large",
            field="since",
        )
    if zone is not UTC:
        _check_convertible(since, until, zone)
    return Window(since=since, until=until, resolution=resolution, metrics=metrics, zone=zone)


def _check_convertible(since: datetime, until: datetime, zone: tzinfo) -> None:
    # Local days reach up to a day past the window; at the ends of the calendar (year 1, 9999)
    # that is no date Python or SQLite can represent.
    try:
        (since - timedelta(days=1)).astimezone(zone)
        (until + timedelta(days=1)).astimezone(zone)
    except OverflowError:
        raise FleetInputError(
            "The window is too close to the ends of the calendar for a local time zone; "
            "use tz=utc.",
            code="out_of_range",
            field="since",
        ) from None


def _coarser_hint(resolution: Resolution) -> str:
    return {
        Resolution.RAW: ", or ask for resolution=hour",
        Resolution.HOUR: ", or ask for resolution=day",
    }.get(resolution, "")


def readings(spreader_id: int, span: Window) -> list[dict[str, Any]]:
    """Raw readings in [since, until), oldest first."""
    rows = list(
        TelemetryReading.objects.filter(
            spreader_id=spreader_id, recorded_at__gte=span.since, recorded_at__lt=span.until
        )
        .order_by("recorded_at")
        .values("recorded_at", *span.metrics)[: MAX_POINTS + 1]
    )
    if len(rows) > MAX_POINTS:
        raise FleetInputError(
            f"The window holds more than {MAX_POINTS} readings. Narrow it, or ask for "
            "resolution=hour.",
            code="too_many_points",
            field="since",
        )
    return [{"time": row.pop("recorded_at").astimezone(span.zone), **row} for row in rows]


def buckets(spreader_id: int, span: Window) -> list[dict[str, Any]]:
    """One row per local hour or day with readings: count, and min / avg / max per metric.

    Days: one query, truncated in the zone (local midnight). Hours: one query per stretch of
    the window in which the zone's offset modulo an hour stays the same (one, except in the
    rare zones whose clocks change by half an hour), truncated at that fixed offset.
    """
    if span.resolution == Resolution.DAY:
        stretches = [(span.since, span.until, span.zone)]
    else:
        stretches = hour_stretches(span.zone, span.since, span.until)
    points: list[dict[str, Any]] = []
    for index, (since, until, truncate_in) in enumerate(stretches):
        rows = _aggregate(spreader_id, span, since=since, until=until, truncate_in=truncate_in)
        for row in rows:
            if index and row["bucket"] < since:
                # The hour the clocks changed in (by half an hour): its bucket starts at the
                # change, not on an hour begun before it, which the previous bucket covers.
                row["bucket"] = since
            points.append(_bucket(row, span.metrics, span.zone))
    return points


def _aggregate(
    spreader_id: int, span: Window, *, since: datetime, until: datetime, truncate_in: tzinfo
) -> Any:
    aggregates: dict[str, Any] = {"count": Count("id")}
    for metric in span.metrics:
        aggregates[f"{metric}__min"] = Min(metric)
        aggregates[f"{metric}__avg"] = Avg(metric)
        aggregates[f"{metric}__max"] = Max(metric)
    return (
        TelemetryReading.objects.filter(
            spreader_id=spreader_id, recorded_at__gte=since, recorded_at__lt=until
        )
        .annotate(bucket=Trunc("recorded_at", str(span.resolution), tzinfo=truncate_in))
        .values("bucket")  # with order_by below, this replaces Meta.ordering in the GROUP BY
        .annotate(**aggregates)
        .order_by("bucket")
    )


_HOUR = timedelta(hours=1)


def hour_stretches(
    zone: tzinfo, since: datetime, until: datetime
) -> list[tuple[datetime, datetime, tzinfo]]:
    """[since, until) cut where the zone's offset modulo an hour changes, each stretch with the
    fixed offset that truncates it to whole local hours. Europe/Amsterdam: one stretch in UTC
    (+01:00 and +02:00 both cut hours where UTC does), across any DST change."""
    if zone is UTC:
        return [(since, until, UTC)]
    stretches = []
    start, residue = since, _residue(zone, since)
    probe = since
    while probe < until:
        step = min(probe + _HOUR, until)  # clocks change at most once an hour
        if step < until and _residue(zone, step) != residue:
            change = _first_change(zone, probe, step, residue)
            stretches.append((start, change, _fixed(zone, residue)))
            start, residue = change, _residue(zone, change)
        probe = step
    stretches.append((start, until, _fixed(zone, residue)))
    return stretches


def _residue(zone: tzinfo, moment: datetime) -> timedelta:
    return (moment.astimezone(zone).utcoffset() or timedelta(0)) % _HOUR


def _first_change(zone: tzinfo, low: datetime, high: datetime, residue: timedelta) -> datetime:
    """The first second in (low, high] whose residue differs (a binary search)."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _residue(zone, middle) == residue:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _fixed(zone: tzinfo, residue: timedelta) -> tzinfo:
    if not residue:
        return UTC
    if residue % timedelta(minutes=1):
        # Local mean time (before ~1940) has offsets in seconds, which databases' offset syntax
        # can't say; those eras had no clock changes to fold, so the zone itself truncates.
        return zone
    return timezone(residue)


def _number(value: Any) -> float | int | None:
    # PostgreSQL's avg() of an integer column is numeric (Decimal); JSON wants a plain number.
    if value is None or isinstance(value, int):
        return value
    return float(value)


def _bucket(row: dict[str, Any], metrics: tuple[str, ...], zone: tzinfo) -> dict[str, Any]:
    point: dict[str, Any] = {"time": row["bucket"].astimezone(zone), "count": row["count"]}
    for metric in metrics:
        point[metric] = {
            "min": _number(row[f"{metric}__min"]),
            "avg": _number(row[f"{metric}__avg"]),
            "max": _number(row[f"{metric}__max"]),
        }
    return point


def series(spreader_id: int, span: Window) -> list[dict[str, Any]]:
    if span.resolution == Resolution.RAW:
        return readings(spreader_id, span)
    return buckets(spreader_id, span)
