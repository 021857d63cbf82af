"""Reads of fleet data with tenancy built in: what a token may see.

Every API read goes through one of these, so a view cannot forget the rule: only the token's
organisation, and only its selected terminals. An object outside that is "not found" (404),
never "forbidden" — the answer must not tell whether it exists.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from fleet.models import Alarm, MaintenanceRecord, Spreader, Terminal


class TokenScope(Protocol):
    """What tenancy needs from a token (tokens.cache.TokenState has it)."""

    organization_id: int
    terminal_ids: frozenset[int] | None  # None: every terminal of the organisation
    kind: str  # "production" (qgp_) or "sandbox" (qgs_)


def _terminal_filter(scope: TokenScope, prefix: str = "") -> Q:
    """The one tenancy rule, as a filter on terminals (spreaders, readings, alarms and
    maintenance all hang off a terminal, so every read goes through it): the token's
    organisation, the token's kind of terminal (sandbox for qgs_, production for qgp_), and for
    a production token its selected terminals. A terminal selection names production
    terminals, so a sandbox token sees its organisation's whole sandbox fleet."""
    sandbox = scope.kind != "production"
    condition = Q(
        **{f"{prefix}organization_id": scope.organization_id, f"{prefix}sandbox": sandbox}
    )
    if scope.terminal_ids is not None and not sandbox:
        condition &= Q(**{f"{prefix}id__in": sorted(scope.terminal_ids)})
    return condition


def terminals_visible_to(scope: TokenScope) -> QuerySet[Terminal]:
    return Terminal.objects.filter(_terminal_filter(scope))


def spreaders_visible_to(scope: TokenScope) -> QuerySet[Spreader]:
    return Spreader.objects.filter(_terminal_filter(scope, "terminal__")).select_related("terminal")


def spreader_for(scope: TokenScope, serial_number: str) -> Spreader:
    """The spreader and its terminal, in one query. Building and compiling the ORM's
    select_related lookup cost ~1 ms of CPU on every request (issue 22's profile), more than
    the rest of GET /api/v1/spreaders/{serial} together: the tenancy queryset is compiled once
    per token scope and process (_compiled_lookup) and only the serial number changes."""
    db = router.db_for_read(Spreader)
    compiled = _compiled_lookup(db, scope.organization_id, scope.kind, scope.terminal_ids)
    row = None
    if compiled is not None:
        sql, params, serial_at = compiled
        params = [*params[:serial_at], serial_number, *params[serial_at + 1 :]]
        with connections[db].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    if row is None:
        raise Http404(f"No spreader {serial_number!r} is visible to this token.")
    spreader, terminal = _from_row(db, row, (Spreader, Terminal))
    spreader.terminal = terminal
    return spreader


@dataclass(frozen=True)
class _Scope:
    organization_id: int
    kind: str
    terminal_ids: frozenset[int] | None


# A parameter no serial number can be: the compiled lookup's place for the real one.
_SERIAL = "\x00serial\x00"


@functools.lru_cache(maxsize=4096)
def _compiled_lookup(
    db: str, organization_id: int, kind: str, terminal_ids: frozenset[int] | None
) -> tuple[str, tuple[Any, ...], int] | None:
    """spreaders_visible_to's query for one serial number, compiled (the tenancy rule stays
    _terminal_filter's alone), with where the serial number goes among its parameters; None
    when the scope can see nothing (an empty terminal selection)."""
    scope = _Scope(organization_id, kind, terminal_ids)
    query = spreaders_visible_to(scope).filter(serial_number=_SERIAL)[:1].query
    try:
        sql, params = query.get_compiler(using=db).as_sql()
    except EmptyResultSet:
        return None
    return sql, tuple(params), list(params).index(_SERIAL)


def _from_row(db: str, row: tuple, models: tuple[type[Model], ...]) -> list[Model]:
    """Model instances from a row of their concrete columns, one model after the other, each
    value through the backend's converters as a queryset's would be (SQLite's dates, …)."""
    if _has_converters(db, models):
        compiler = models[0].objects.none().query.get_compiler(using=db)
        converters = compiler.get_converters(_columns(models))
        row = next(iter(compiler.apply_converters([row], converters)))
    instances, start = [], 0
    for model in models:
        names = [field.attname for field in model._meta.concrete_fields]
        instances.append(model.from_db(db, names, row[start : start + len(names)]))
        start += len(names)
    return instances


@functools.cache
def _has_converters(db: str, models: tuple[type[Model], ...]) -> bool:
    """Whether the backend converts any of these columns (SQLite does; PostgreSQL's driver
    returns them as they are, and finding that out costs ~50 µs a row: asked once)."""
    compiler = models[0].objects.none().query.get_compiler(using=db)
    return bool(compiler.get_converters(_columns(models)))


def _columns(models: tuple[type[Model], ...]) -> list[Any]:
    return [
        field.get_col(model._meta.db_table)
        for model in models
        for field in model._meta.concrete_fields
    ]


def alarms_visible_to(scope: TokenScope) -> QuerySet[Alarm]:
    return Alarm.objects.filter(_terminal_filter(scope, "spreader__terminal__")).select_related(
        "spreader", "acknowledged_by_token"
    )


def alarm_for(scope: TokenScope, alarm_id: int) -> Alarm:
    alarm = alarms_visible_to(scope).filter(pk=alarm_id).first()
    if alarm is None:
        raise Http404(f"No alarm {alarm_id} is visible to this token.")
    return alarm


def maintenance_visible_to(scope: TokenScope) -> QuerySet[MaintenanceRecord]:
    return MaintenanceRecord.objects.filter(
        _terminal_filter(scope, "spreader__terminal__")
    ).select_related("spreader", "created_by_token")


# --- filters (already validated by the views' query serializers) --------------------------------


def filter_spreaders(
    spreaders: QuerySet[Spreader],
    *,
    terminal: str | None = None,
    status: list[str] | None = None,
    model: str | None = None,
) -> QuerySet[Spreader]:
    if terminal:
        spreaders = spreaders.filter(terminal__code=terminal)
    if status:
        spreaders = spreaders.filter(status__in=status)
    if model:
        spreaders = spreaders.filter(model=model)
    return spreaders


def filter_alarms(
    alarms: QuerySet[Alarm],
    *,
    spreader: str | None = None,
    state: str | None = None,
    severity: list[str] | None = None,
    acknowledged: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Alarm]:
    if spreader:
        alarms = alarms.filter(spreader__serial_number=spreader)
    if state == "active":
        alarms = alarms.active()
    elif state == "cleared":
        alarms = alarms.cleared()
    if severity:
        alarms = alarms.filter(severity__in=severity)
    if acknowledged is not None:
        alarms = alarms.filter(acknowledged_at__isnull=not acknowledged)
    if since:
        alarms = alarms.filter(raised_at__gte=since)
    if until:
        alarms = alarms.filter(raised_at__lt=until)
    return alarms


def filter_maintenance(
    records: QuerySet[MaintenanceRecord],
    *,
    spreader: str | None = None,
    kind: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[MaintenanceRecord]:
    if spreader:
        records = records.filter(spreader__serial_number=spreader)
    if kind:
        records = records.filter(kind__in=kind)
    if since:
        records = records.filter(performed_at__gte=since)
    if until:
        records = records.filter(performed_at__lt=until)
    return records
