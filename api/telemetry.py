"""A spreader's telemetry over a window: raw readings, or hourly / daily buckets.

Buckets are aggregated in SQL (GROUP BY the truncated time, MIN/AVG/MAX per metric), so a year
of readings never crosses the wire. Django's Trunc works the same on SQLite and PostgreSQL.
Buckets are UTC hours / days; a bucket without readings is left out.

Bounds, checked before any query: the window per resolution, and so the number of points.
Raw readings have no fixed spacing, so their count is bounded by reading one row past the
limit: more than that is a 400 that says to narrow the window or use buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import Trunc

from api.exceptions import FleetInputError
from api.models import TelemetryReading

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


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime
    resolution: Resolution
    metrics: tuple[str, ...]


def window(
    *,
    since: datetime | None,
    until: datetime | None,
    resolution: str,
    metrics: tuple[str, ...] = METRICS,
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
    return Window(since=since, until=until, resolution=resolution, metrics=metrics)


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
    return [{"time": row.pop("recorded_at"), **row} for row in rows]


def buckets(spreader_id: int, span: Window) -> list[dict[str, Any]]:
    """One row per UTC hour or day with readings: count, and min / avg / max per metric."""
    aggregates: dict[str, Any] = {"count": Count("id")}
    for metric in span.metrics:
        aggregates[f"{metric}__min"] = Min(metric)
        aggregates[f"{metric}__avg"] = Avg(metric)
        aggregates[f"{metric}__max"] = Max(metric)
    rows = (
        TelemetryReading.objects.filter(
            spreader_id=spreader_id, recorded_at__gte=span.since, recorded_at__lt=span.until
        )
        .annotate(bucket=Trunc("recorded_at", str(span.resolution), tzinfo=UTC))
        .values("bucket")  # with order_by below, this replaces Meta.ordering in the GROUP BY
        .annotate(**aggregates)
        .order_by("bucket")
    )
    return [_bucket(row, span.metrics) for row in rows]


def _number(value: Any) -> float | int | None:
    # PostgreSQL's avg() of an integer column is numeric (Decimal); JSON wants a plain number.
    if value is None or isinstance(value, int):
        return value
    return float(value)


def _bucket(row: dict[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
    point: dict[str, Any] = {"time": row["bucket"], "count": row["count"]}
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
