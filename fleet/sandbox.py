"""The sandbox fleet: deterministic synthetic data a sandbox (qgs_) token reads and writes.

Every organisation gets the same shape — two terminals, a few spreaders each, a week of hourly
readings, some alarms and maintenance — drawn from a random.Random seeded with a constant and
the organisation's id, and stamped relative to a day boundary (midnight UTC of the day it is
generated). Same organisation and same anchor → identical rows, so a partner's tests and our
own can rely on the numbers.

The rows are ordinary fleet rows on terminals with `sandbox=True`; the tenancy filter in
fleet.selectors keeps them and production rows apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from fleet.models import Alarm, MaintenanceRecord, Spreader, TelemetryReading, Terminal

SEED = "quaygate-sandbox-fleet-v1"  # change it and every sandbox fleet changes on its next reset
READING_DAYS = 7
SPREADERS_PER_TERMINAL = 3
# (code, name, country, time zone)
TERMINALS = [
    ("SBX-N", "Sandbox North Quay", "NL", "Europe/Amsterdam"),
    ("SBX-S", "Sandbox South Basin", "SG", "Asia/Singapore"),
]
MODELS = ["EH170", "EH180", "EH5U"]
ALARMS = [
    ("HYD-LOW", Alarm.Severity.WARNING, "Hydraulic pressure low"),
    ("OIL-HOT", Alarm.Severity.CRITICAL, "Oil temperature above limit"),
    ("TWL-SLOW", Alarm.Severity.INFO, "Twistlock cycle slower than usual"),
]
MAINTENANCE = [
    (MaintenanceRecord.Kind.INSPECTION, "Visual inspection of twistlocks and flippers"),
    (MaintenanceRecord.Kind.LUBRICATION, "Greased telescopic beams"),
    (MaintenanceRecord.Kind.REPAIR, "Replaced a leaking hydraulic hose"),
]


@dataclass
class _Rows:
    terminals: list[Terminal] = field(default_factory=list)
    spreaders: list[Spreader] = field(default_factory=list)
    readings: list[TelemetryReading] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    maintenance: list[MaintenanceRecord] = field(default_factory=list)


def anchor_for(now: datetime) -> datetime:
    """The day boundary the fixtures are stamped against: midnight UTC of `now`'s day."""
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def rng_for(organization: Organization) -> random.Random:
    # A str seed is hashed with SHA-512 (not Python's per-process hash): stable everywhere.
    return random.Random(f"{SEED}:{organization.pk}")  # noqa: S311 - fixtures, not secrets


def has_sandbox_fleet(organization_id: int) -> bool:
    return Terminal.objects.filter(organization_id=organization_id, sandbox=True).exists()


def ensure_sandbox_fleet(organization: Organization, *, now: datetime | None = None) -> bool:
    """Generate the organisation's sandbox fleet unless it has one. True if it generated.

    Race-safe: the organisation row is locked (select_for_update) and the check repeated
    under the lock, so two concurrent first requests generate exactly once."""
    if has_sandbox_fleet(organization.pk):
        return False
    with transaction.atomic():
        Organization.objects.select_for_update().only("pk").get(pk=organization.pk)
        if has_sandbox_fleet(organization.pk):
            return False
        _create(organization, anchor_for(now or timezone.now()))
    return True


def reset_sandbox_fleet(organization: Organization, *, now: datetime | None = None) -> dict:
    """Delete every sandbox row of the organisation and generate the fixtures afresh, in one
    transaction (a concurrent reader sees the old fleet or the new one, never none)."""
    with transaction.atomic():
        Organization.objects.select_for_update().only("pk").get(pk=organization.pk)
        spreaders = Spreader.objects.filter(
            terminal__organization=organization, terminal__sandbox=True
        )
        # Spreader → terminal is PROTECT; readings, alarms and maintenance cascade from it.
        TelemetryReading.objects.filter(spreader__in=spreaders).delete()
        Alarm.objects.filter(spreader__in=spreaders).delete()
        MaintenanceRecord.objects.filter(spreader__in=spreaders).delete()
        spreaders.delete()
        Terminal.objects.for_org(organization, sandbox=True).delete()
        return _create(organization, anchor_for(now or timezone.now()))


def _create(organization: Organization, anchor: datetime) -> dict:
    """Save the fixtures (one bulk insert per model); what was made, counted."""
    rows = build(organization, anchor)
    Terminal.objects.bulk_create(rows.terminals)
    for spreader in rows.spreaders:
        spreader.terminal_id = spreader.terminal.pk
    Spreader.objects.bulk_create(rows.spreaders)
    for row in (*rows.readings, *rows.alarms, *rows.maintenance):
        row.spreader_id = row.spreader.pk
    TelemetryReading.objects.bulk_create(rows.readings, batch_size=2000)
    Alarm.objects.bulk_create(rows.alarms)
    MaintenanceRecord.objects.bulk_create(rows.maintenance)
    return {
        "anchored_at": anchor,
        "terminals": len(rows.terminals),
        "spreaders": len(rows.spreaders),
        "readings": len(rows.readings),
        "alarms": len(rows.alarms),
        "maintenance_records": len(rows.maintenance),
    }


def build(organization: Organization, anchor: datetime) -> _Rows:
    """The unsaved rows of the organisation's sandbox fleet (pure: no query)."""
    rng = rng_for(organization)
    rows = _Rows()
    for code, name, country, zone in TERMINALS:
        terminal = Terminal(
            organization=organization,
            code=code,
            name=name,
            country=country,
            time_zone=zone,
            sandbox=True,
        )
        rows.terminals.append(terminal)
        for n in range(1, SPREADERS_PER_TERMINAL + 1):
            spreader = Spreader(
                terminal=terminal,
                # Serial numbers are unique across the platform: the org id keeps them apart.
                serial_number=f"SBX{organization.pk}-{code[-1]}{n:02d}",
                model=rng.choice(MODELS),
                commissioned_at=date(2018 + rng.randrange(6), rng.randrange(1, 13), 1),
                status=Spreader.Status.IN_SERVICE,
            )
            rows.spreaders.append(spreader)
            _spreader_history(rows, spreader, rng, anchor)
    rows.spreaders[-1].status = Spreader.Status.MAINTENANCE
    return rows


def _spreader_history(
    rows: _Rows, spreader: Spreader, rng: random.Random, anchor: datetime
) -> None:
    start = anchor - timedelta(days=READING_DAYS)
    cycles, lifts = rng.randrange(10_000, 90_000), rng.randrange(5_000, 40_000)
    hours = round(rng.uniform(2_000, 20_000), 1)
    for step in range(READING_DAYS * 24):
        busy = rng.randrange(0, 30)
        cycles, lifts, hours = cycles + 2 * busy, lifts + busy, round(hours + busy / 30, 2)
        rows.readings.append(
            TelemetryReading(
                spreader=spreader,
                recorded_at=start + timedelta(hours=step),
                twistlock_cycles=cycles,
                lifts=lifts,
                load_tonnes=round(rng.uniform(8, 40), 1),
                hydraulic_pressure_bar=round(rng.uniform(180, 230), 1),
                oil_temperature_c=round(rng.uniform(35, 75), 1),
                operating_hours=hours,
            )
        )
    for _ in range(rng.randrange(1, 3)):
        code, severity, message = rng.choice(ALARMS)
        raised = start + timedelta(minutes=rng.randrange(READING_DAYS * 24 * 60))
        cleared = raised + timedelta(hours=rng.randrange(1, 12)) if rng.random() < 0.5 else None
        rows.alarms.append(
            Alarm(
                spreader=spreader,
                code=code,
                severity=severity,
                message=message,
                raised_at=raised,
                cleared_at=cleared if cleared and cleared < anchor else None,
            )
        )
    kind, description = rng.choice(MAINTENANCE)
    performed = start + timedelta(hours=rng.randrange(READING_DAYS * 24))
    rows.maintenance.append(
        MaintenanceRecord(
            spreader=spreader,
            performed_at=performed,
            kind=kind,
            description=description,
            operating_hours=hours,
            created_at=performed,
        )
    )
