"""Plain helpers that make fleet data for API tests."""

import itertools
from datetime import date, datetime

from django.utils import timezone

from accounts.models import Organization
from fleet.models import Alarm, MaintenanceRecord, Spreader, TelemetryReading, Terminal

_numbers = itertools.count(1)


def make_terminal(organization: Organization, code: str, **fields) -> Terminal:
    fields.setdefault("name", f"Terminal {code}")
    fields.setdefault("country", "NL")
    return Terminal.objects.create(organization=organization, code=code, **fields)


def make_spreader(terminal: Terminal, serial: str | None = None, **fields) -> Spreader:
    fields.setdefault("model", "EH170")
    fields.setdefault("commissioned_at", date(2020, 1, 1))
    serial = serial or f"SP-{next(_numbers):05d}"
    return Spreader.objects.create(terminal=terminal, serial_number=serial, **fields)


def make_alarm(spreader: Spreader, **fields) -> Alarm:
    fields.setdefault("code", "HYD-LOW")
    fields.setdefault("severity", Alarm.Severity.WARNING)
    fields.setdefault("message", "Hydraulic pressure low")
    fields.setdefault("raised_at", timezone.now())
    return Alarm.objects.create(spreader=spreader, **fields)


def make_maintenance(spreader: Spreader, **fields) -> MaintenanceRecord:
    fields.setdefault("performed_at", timezone.now())
    fields.setdefault("kind", MaintenanceRecord.Kind.INSPECTION)
    fields.setdefault("description", "Visual inspection")
    return MaintenanceRecord.objects.create(spreader=spreader, **fields)


def reading(spreader: Spreader, at: datetime, **values) -> TelemetryReading:
    """An unsaved reading; every metric can be given, the rest are plain defaults."""
    defaults = {
        "twistlock_cycles": 0,
        "lifts": 0,
        "load_tonnes": 0.0,
        "hydraulic_pressure_bar": 0.0,
        "oil_temperature_c": 0.0,
        "operating_hours": 0.0,
    }
    return TelemetryReading(spreader=spreader, recorded_at=at, **{**defaults, **values})


def save_readings(*readings: TelemetryReading) -> list[TelemetryReading]:
    return TelemetryReading.objects.bulk_create(readings)
