"""Changes to fleet data made through the API (or anywhere else): the one place each happens.

Fleet data is not a security object, so no audit event; but every change records who made it —
a person or a token — on the row itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from fleet.exceptions import FleetInputError
from fleet.models import Alarm, MaintenanceRecord, Spreader

# Controllers' clocks drift; a record stamped a little ahead of ours is still "now".
_CLOCK_SLACK = timedelta(minutes=5)
MAX_OPERATING_HOURS = 1_000_000


def _require_one_author(by_token_id: int | None, by_user: User | None) -> None:
    if (by_token_id is None) == (by_user is None):
        raise ValueError("Say who did it: exactly one of by_token_id and by_user")


def acknowledge_alarm(
    alarm: Alarm,
    *,
    by_token_id: int | None = None,
    by_user: User | None = None,
    now: datetime | None = None,
) -> Alarm:
    """Acknowledge once. Idempotent: acknowledging again changes nothing and keeps the first
    acknowledger, so two clients retrying the same call agree on the result."""
    _require_one_author(by_token_id, by_user)
    now = now or timezone.now()
    # A conditional update: of two concurrent acknowledgements exactly one writes.
    Alarm.objects.filter(pk=alarm.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now,
        acknowledged_by_token_id=by_token_id,
        acknowledged_by_user=by_user,
    )
    return Alarm.objects.select_related("spreader", "acknowledged_by_token").get(pk=alarm.pk)


def log_maintenance(
    spreader: Spreader,
    *,
    performed_at: datetime,
    kind: str,
    description: str,
    operating_hours: float | None = None,
    by_token_id: int | None = None,
    by_user: User | None = None,
    now: datetime | None = None,
) -> MaintenanceRecord:
    """Record maintenance done on `spreader`. Raises FleetInputError naming the field at fault."""
    _require_one_author(by_token_id, by_user)
    now = now or timezone.now()
    if kind not in MaintenanceRecord.Kind.values:
        raise FleetInputError(
            f"Unknown kind. Use one of: {', '.join(MaintenanceRecord.Kind.values)}.",
            code="invalid_choice",
            field="kind",
        )
    if performed_at > now + _CLOCK_SLACK:
        raise FleetInputError(
            "Maintenance can be logged once it is done: performed_at is in the future.",
            code="in_future",
            field="performed_at",
        )
    if performed_at.date() < spreader.commissioned_at:
        raise FleetInputError(
            f"The spreader was commissioned on {spreader.commissioned_at.isoformat()}; "
            "performed_at is before that.",
            code="before_commissioning",
            field="performed_at",
        )
    description = description.strip()
    if not description:
        raise FleetInputError("Describe what was done.", code="blank", field="description")
    if operating_hours is not None and not 0 <= operating_hours <= MAX_OPERATING_HOURS:
        raise FleetInputError(
            f"Operating hours are between 0 and {MAX_OPERATING_HOURS}.",
            code="out_of_range",
            field="operating_hours",
        )
    return MaintenanceRecord.objects.create(
        spreader=spreader,
        performed_at=performed_at,
        kind=kind,
        description=description,
        operating_hours=operating_hours,
        created_at=now,
        created_by_token_id=by_token_id,
        created_by_user=by_user,
    )
