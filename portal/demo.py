"""Demo data for `make run`: two port owners, their people, terminals, spreaders and a week of
telemetry. Deterministic (fixed seed) and idempotent: running it again adds nothing."""

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from api.models import Alarm, MaintenanceRecord, Spreader, TelemetryReading, Terminal
from portal.models import Membership, Organization, User

DEMO_PASSWORD = "quaygate-demo-2026"  # noqa: S105 - printed for the demo, never used in production
READING_INTERVAL = timedelta(minutes=15)
READING_DAYS = 7

ORGANISATIONS = [
    {
        "name": "Port of Rotterdam Demo",
        "slug": "rotterdam-demo",
        "people": [
            ("ada@rotterdam.example", "Ada Admin", "admin"),
            ("mo@rotterdam.example", "Mo Member", "member"),
        ],
        "terminals": [
            ("RTM-EMX", "Euromax Terminal", "NL", "Europe/Amsterdam", 4),
            ("RTM-APM", "APM Maasvlakte II", "NL", "Europe/Amsterdam", 4),
            ("RTM-RWG", "Rotterdam World Gateway", "NL", "Europe/Amsterdam", 3),
        ],
    },
    {
        "name": "Port of Singapore Demo",
        "slug": "singapore-demo",
        "people": [
            ("sam@singapore.example", "Sam Admin", "admin"),
            ("lee@singapore.example", "Lee Member", "member"),
        ],
        "terminals": [
            ("SIN-PSR", "Pasir Panjang", "SG", "Asia/Singapore", 5),
            ("SIN-TUA", "Tuas Port", "SG", "Asia/Singapore", 4),
        ],
    },
]
MODELS = ["Bromma STS45", "Bromma YSX40", "Stinis Twinlift", "RAM 2900"]
ALARMS = [
    ("HYD-PRESS-LOW", Alarm.Severity.WARNING, "Hydraulic pressure below 120 bar during lift"),
    ("OIL-TEMP-HIGH", Alarm.Severity.CRITICAL, "Oil temperature above 85 °C"),
    ("TWL-SENSOR", Alarm.Severity.WARNING, "Twistlock landed sensor disagrees with locked sensor"),
    ("CAN-TIMEOUT", Alarm.Severity.INFO, "Controller CAN bus message timeout"),
]


@dataclass
class DemoSummary:
    logins: list[tuple[str, str, str]]
    readings_created: int


def seed_demo(*, seed: int = 2026) -> DemoSummary:
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    logins: list[tuple[str, str, str]] = []
    readings_created = 0
    with transaction.atomic():
        ops, _ = User.objects.get_or_create(
            email="ops@quaygate.example", defaults={"full_name": "Olga Ops", "is_staff": True}
        )
        _ensure_password(ops)
        logins.append((ops.email, DEMO_PASSWORD, "Quaygate ops (admin site, staff)"))
        for spec in ORGANISATIONS:
            org, _ = Organization.objects.get_or_create(
                slug=spec["slug"], defaults={"name": spec["name"]}
            )
            for email, full_name, role in spec["people"]:
                user, _ = User.objects.get_or_create(email=email, defaults={"full_name": full_name})
                _ensure_password(user)
                Membership.objects.get_or_create(
                    user=user, organization=org, defaults={"role": role}
                )
                logins.append(
                    (
                        email,
                        DEMO_PASSWORD,
                        f"{'organisation admin' if role == 'admin' else 'member'} of {org.name}",
                    )
                )
            for code, name, country, tz, count in spec["terminals"]:
                terminal, _ = Terminal.objects.get_or_create(
                    organization=org,
                    code=code,
                    defaults={"name": name, "country": country, "time_zone": tz},
                )
                for index in range(1, count + 1):
                    spreader, created = Spreader.objects.get_or_create(
                        serial_number=f"{code}-{index:03d}",
                        defaults={
                            "terminal": terminal,
                            "model": rng.choice(MODELS),
                            "commissioned_at": date(
                                2018 + rng.randrange(7), rng.randrange(1, 13), 1
                            ),
                            "status": Spreader.Status.MAINTENANCE
                            if index == count
                            else Spreader.Status.IN_SERVICE,
                        },
                    )
                    if created:
                        readings_created += _seed_spreader(spreader, rng, now)
    return DemoSummary(logins=logins, readings_created=readings_created)


def _ensure_password(user: User) -> None:
    if not user.has_usable_password() or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])


def _seed_spreader(spreader: Spreader, rng: random.Random, now: datetime) -> int:
    start = now - timedelta(days=READING_DAYS)
    steps = int(timedelta(days=READING_DAYS) / READING_INTERVAL)
    hours = 8000 + rng.random() * 20000
    cycles = int(hours * 22)
    readings = []
    for step in range(steps):
        at = start + step * READING_INTERVAL
        # Busier by day than by night, with noise: what a quay crane's shift pattern looks like.
        shift = 0.55 + 0.45 * math.sin((at.hour - 6) / 24 * 2 * math.pi)
        lifts = max(0, int(rng.gauss(9 * shift, 2)))
        cycles += lifts * 2
        hours += READING_INTERVAL.total_seconds() / 3600 * (0.3 + 0.7 * shift)
        readings.append(
            TelemetryReading(
                spreader=spreader,
                recorded_at=at,
                twistlock_cycles=cycles,
                lifts=lifts,
                load_tonnes=round(max(0.0, rng.gauss(24, 8)) if lifts else 0.0, 2),
                hydraulic_pressure_bar=round(rng.gauss(160, 9), 1),
                oil_temperature_c=round(42 + 25 * shift + rng.gauss(0, 3), 1),
                operating_hours=round(hours, 2),
            )
        )
    TelemetryReading.objects.bulk_create(readings, batch_size=2000)
    for _ in range(rng.randrange(1, 4)):
        code, severity, message = rng.choice(ALARMS)
        raised = start + timedelta(
            minutes=rng.randrange(int(timedelta(days=READING_DAYS).total_seconds() // 60))
        )
        cleared = raised + timedelta(minutes=rng.randrange(5, 240)) if rng.random() < 0.6 else None
        Alarm.objects.create(
            spreader=spreader,
            code=code,
            severity=severity,
            message=message,
            raised_at=raised,
            cleared_at=cleared,
        )
    MaintenanceRecord.objects.create(
        spreader=spreader,
        performed_at=start - timedelta(days=rng.randrange(1, 60)),
        kind=rng.choice(MaintenanceRecord.Kind.values),
        description="Scheduled service: twistlocks inspected, hydraulic filters changed.",
        operating_hours=round(hours - rng.randrange(100, 900), 1),
    )
    return len(readings)
