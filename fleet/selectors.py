"""Reads of fleet data with tenancy built in: what a token may see.

Every API read goes through one of these, so a view cannot forget the rule: only the token's
organisation, and only its selected terminals. An object outside that is "not found" (404),
never "forbidden" — the answer must not tell whether it exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.db.models import Q, QuerySet
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
    spreader = spreaders_visible_to(scope).filter(serial_number=serial_number).first()
    if spreader is None:
        raise Http404(f"No spreader {serial_number!r} is visible to this token.")
    return spreader


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
