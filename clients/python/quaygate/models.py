"""The API's resources as dataclasses. Built from JSON with `from_json`: fields the server adds
later are ignored (so an old client keeps working), times become aware datetimes."""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from datetime import date, datetime, timezone
from typing import Any, TypeVar

T = TypeVar("T", bound="Model")


def _parse_time(value: Any) -> Any:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _parse_date(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _kinds(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


@dataclasses.dataclass(frozen=True)
class Model:
    @classmethod
    def from_json(cls: type[T], data: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        values = {}
        for item in dataclasses.fields(cls):
            if item.name not in data:
                continue
            value, kinds = data[item.name], _kinds(hints[item.name])
            if datetime in kinds:
                value = _parse_time(value)
            elif date in kinds:
                value = _parse_date(value)
            elif isinstance(value, dict):
                nested = [k for k in kinds if isinstance(k, type) and issubclass(k, Model)]
                value = nested[0].from_json(value) if nested else value
            elif isinstance(value, list):
                value = tuple(value)
            values[item.name] = value
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Terminal(Model):
    code: str
    name: str
    country: str
    time_zone: str = "UTC"


@dataclasses.dataclass(frozen=True)
class Spreader(Model):
    serial_number: str
    model: str
    status: str
    terminal: str
    commissioned_at: date | None = None


@dataclasses.dataclass(frozen=True)
class Actor(Model):
    """Who acknowledged an alarm or logged a record: a token (by display prefix) or a person."""

    type: str
    token_prefix: str | None = None


@dataclasses.dataclass(frozen=True)
class Alarm(Model):
    id: int
    spreader: str
    code: str
    severity: str
    message: str
    state: str
    raised_at: datetime | None = None
    cleared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: Actor | None = None


@dataclasses.dataclass(frozen=True)
class MaintenanceRecord(Model):
    id: int
    spreader: str
    performed_at: datetime
    kind: str
    description: str
    operating_hours: float | None = None
    created_at: datetime | None = None
    created_by: Actor | None = None


@dataclasses.dataclass(frozen=True)
class Token(Model):
    """The calling token's metadata (GET /token). Never the secret."""

    id: int
    name: str
    display_prefix: str
    organization: str
    scopes: tuple[str, ...] = ()
    terminal_access: str = "all"
    terminals: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()
    rate_limit_per_hour: int | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    regenerated_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class RotatedToken(Token):
    """The token after POST /token/rotate. `token` is the new secret: kept out of repr."""

    token: str = dataclasses.field(default="", repr=False)
    old_secret_valid_until: datetime | None = None


@dataclasses.dataclass(frozen=True)
class TelemetrySeries(Model):
    """A spreader's readings (`resolution` raw) or hourly/daily buckets, as plain dicts in
    `points` (their keys are the metrics asked for)."""

    spreader: str
    since: datetime
    until: datetime
    resolution: str
    metrics: tuple[str, ...] = ()
    time_zone: str = "UTC"
    points: tuple[dict[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class LeakReportReceipt(Model):
    detail: str


@dataclasses.dataclass(frozen=True)
class ChangelogEntry(Model):
    """One dated change of the API (GET /changelog)."""

    version: str
    date: date
    title: str
    kind: str
    description: str = ""
    operations: tuple[str, ...] = ()
    sunset: date | None = None


@dataclasses.dataclass(frozen=True)
class RateLimit:
    """The X-RateLimit-* headers of the last answer: `remaining` of `limit` until `reset`."""

    limit: int
    remaining: int
    reset: datetime

    @classmethod
    def from_headers(cls, headers: Any) -> RateLimit | None:
        try:
            return cls(
                limit=int(headers["X-RateLimit-Limit"]),
                remaining=int(headers["X-RateLimit-Remaining"]),
                reset=datetime.fromtimestamp(int(headers["X-RateLimit-Reset"]), tz=timezone.utc),
            )
        except (KeyError, ValueError):
            return None
