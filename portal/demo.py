"""Demo data for `make run`: two port owners, their people, terminals, spreaders, a week of
telemetry, and tokens with a month of API usage (so the portal's charts, the audit log and an
anomaly have something to show). Deterministic (fixed seed) and idempotent: running it again
adds nothing."""

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from fleet.models import Alarm, MaintenanceRecord, Spreader, TelemetryReading, Terminal

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
        "api_access": "sandbox",
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


# (owner email, name, scopes, days to expiry or None, revoke reason or None)
TOKENS = [
    ("ada@rotterdam.example", "TOS integration", ["fleet:read", "alarms:write"], 80, None),
    ("ada@rotterdam.example", "Maintenance contractor", ["maintenance:write"], 25, None),
    ("mo@rotterdam.example", "Dashboard prototype", ["fleet:read", "telemetry:read"], 5, None),
    ("mo@rotterdam.example", "Old laptop script", ["telemetry:read"], 60, "Laptop replaced"),
    ("sam@singapore.example", "Port community system", ["fleet:read", "telemetry:read"], 90, None),
    ("lee@singapore.example", "Data science notebook", ["telemetry:read"], 30, None),
]
USAGE_DAYS = 30
USAGE_ROUTES = [
    ("api/v1/spreaders", "/api/v1/spreaders"),
    ("api/v1/spreaders/<str:serial>/telemetry", "/api/v1/spreaders/{serial}/telemetry"),
    ("api/v1/alarms", "/api/v1/alarms"),
    ("api/v1/token", "/api/v1/token"),
]


@dataclass
class DemoSummary:
    logins: list[tuple[str, str, str]]
    readings_created: int
    tokens_created: int = 0
    usage_rows_created: int = 0


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
        # Staff in the "Ops" group (portal/migrations/0002_ops_group): what ops may do in admin.
        ops.groups.add(*Group.objects.filter(name="Ops"))
        logins.append((ops.email, DEMO_PASSWORD, "Quaygate ops (admin site, staff)"))
        for spec in ORGANISATIONS:
            org, _ = Organization.objects.get_or_create(
                slug=spec["slug"],
                # Issue 15: one demo org reaches production, the other only the sandbox.
                defaults={"name": spec["name"], "api_access": spec.get("api_access", "production")},
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
    summary = DemoSummary(logins=logins, readings_created=readings_created)
    _seed_tokens_and_usage(summary, rng, now)
    return summary


def _seed_tokens_and_usage(summary: DemoSummary, rng: random.Random, now: datetime) -> None:
    """Tokens issued through the real service (audit events, emails), then a month of usage.

    Imported here: accounts.models sits above tokens and telemetry, and only this demo needs them.
    """
    from telemetry import partitions
    from telemetry.detection import run_detection
    from telemetry.models import UsageRecord
    from tokens import services
    from tokens.actors import Actor
    from tokens.models import PersonalAccessToken

    if PersonalAccessToken.objects.filter(owner__email__endswith=".example").exists():
        return
    actor = Actor.system("demo data")
    rows: list[UsageRecord] = []
    for email, name, scopes, days, revoke_reason in TOKENS:
        owner = User.objects.get(email=email)
        organization = owner.memberships.get().organization
        issued = services.issue_token(
            owner=owner,
            organization=organization,
            name=name,
            scopes=scopes,
            actor=actor,
            expires_at=timezone.now() + timedelta(days=days),
            # A sandbox-only organisation can have sandbox tokens only (issue 15).
            kind="production" if organization.api_access == "production" else "sandbox",
        )
        # The token has been in use for the past month (the demo's history starts before it).
        PersonalAccessToken.objects.filter(pk=issued.token.pk).update(
            created_at=now - timedelta(days=USAGE_DAYS + 2)
        )
        summary.tokens_created += 1
        rows += _usage_history(issued.token, rng, now, stop_days_ago=3 if revoke_reason else 0)
        if revoke_reason:
            services.revoke_token(issued.token, actor=actor, reason=revoke_reason, kind="owner")
    # PostgreSQL: the history's days get partitions of their own, not the default one.
    if rows:
        days = [row.created_at.astimezone(UTC).date() for row in rows]
        partitions.ensure(min(days), max(days))
    UsageRecord.objects.bulk_create(rows, batch_size=2000)
    summary.usage_rows_created = len(rows)
    # Roll the history up (the portal's charts) and let detection find the planted anomaly.
    run_detection(lag_seconds=0)


def _usage_history(token, rng: random.Random, now: datetime, *, stop_days_ago: int) -> list:
    rows = []
    home_ip = f"198.51.100.{rng.randrange(2, 250)}"
    country = token.organization.terminals.values_list("country", flat=True).first() or "NL"
    serials = list(
        Spreader.objects.filter(terminal__organization=token.organization).values_list(
            "serial_number", flat=True
        )
    )
    for hours_ago in range(USAGE_DAYS * 24, stop_days_ago * 24, -1):
        hour = now - timedelta(hours=hours_ago)
        busy = 0.4 + 0.6 * max(0.0, math.sin((hour.hour - 5) / 24 * 2 * math.pi))
        for _ in range(rng.randrange(0, int(6 * busy) + 2)):
            route, path = rng.choice(USAGE_ROUTES)
            roll = rng.random()
            status = (
                200 if roll < 0.93 else (404 if roll < 0.975 else (429 if roll < 0.99 else 500))
            )
            # The draws keep their order (id, time, serial, latency, size): same seed, same rows.
            request_id = uuid.UUID(int=rng.getrandbits(128))
            created_at = hour + timedelta(seconds=rng.randrange(3600))
            rows.append(
                _usage_row(
                    token,
                    request_id=request_id,
                    created_at=created_at,
                    inserted_at=hour + timedelta(seconds=3599),
                    route=route,
                    path=path.format(serial=rng.choice(serials)),
                    status=status,
                    latency_ms=round(rng.lognormvariate(2.3, 0.5), 2),
                    ip=home_ip,
                    country=country,
                    user_agent="partner-sync/2.4 (python-requests)",
                    response_bytes=rng.randrange(300, 9000),
                )
            )
    if token.name == "Dashboard prototype":
        rows += _planted_burst(token, rng, now)
    return rows


def _planted_burst(token, rng: random.Random, now: datetime) -> list:
    """Yesterday, a burst from an address on the other side of the world: an anomaly to look at."""
    rows = []
    for minute in range(12):
        at = now - timedelta(hours=20, minutes=minute)
        rows.append(
            _usage_row(
                token,
                request_id=uuid.UUID(int=rng.getrandbits(128)),
                created_at=at,
                inserted_at=at,
                route="api/v1/spreaders",
                path="/api/v1/spreaders",
                status=200,
                latency_ms=4.2,
                ip="203.0.113.77",
                country="BR",
                user_agent="curl/8.5.0",
                response_bytes=2048,
            )
        )
    return rows


def _usage_row(token, **fields):
    from telemetry.models import UsageRecord

    return UsageRecord(
        token=token,
        organization_id=token.organization_id,
        token_prefix=token.display_prefix,
        method="GET",
        **fields,
    )


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
