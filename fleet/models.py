"""The fleet data that the partner API serves: terminals, spreaders, readings, alarms, maintenance.

These models were born in the api app (migration fleet/0001 moved them without touching a
table), so their tables keep the api_ prefix."""

from django.db import models
from django.utils import timezone

from accounts.models import Organization, User


class TerminalQuerySet(models.QuerySet["Terminal"]):
    def for_org(self, organization: Organization, *, sandbox: bool = False) -> "TerminalQuerySet":
        """The organisation's production terminals (its synthetic sandbox ones with sandbox=True).
        Every picker and every production read starts here, so a sandbox row never shows up
        where production is meant."""
        return self.filter(organization=organization, sandbox=sandbox)


class Terminal(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="terminals"
    )
    code = models.CharField(
        max_length=16, help_text="Short code, unique within the organisation (e.g. RTM-EMX)."
    )
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    time_zone = models.CharField(max_length=64, default="UTC")
    # The tenant key between the two worlds: a sandbox (qgs_) token reads only sandbox
    # terminals and what hangs off them; a production (qgp_) token only the others.
    sandbox = models.BooleanField(default=False, db_index=True)

    objects = TerminalQuerySet.as_manager()

    class Meta:
        db_table = "api_terminal"  # born in the api app; the table keeps its name
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], name="terminal_unique_code_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Spreader(models.Model):
    class Status(models.TextChoices):
        IN_SERVICE = "in_service", "In service"
        MAINTENANCE = "maintenance", "In maintenance"
        RETIRED = "retired", "Retired"

    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="spreaders")
    serial_number = models.CharField(max_length=32, unique=True)
    model = models.CharField(max_length=64)
    commissioned_at = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_SERVICE)

    class Meta:
        db_table = "api_spreader"  # born in the api app; the table keeps its name
        ordering = ["serial_number"]
        indexes = [models.Index(fields=["terminal", "status"])]

    def __str__(self) -> str:
        return self.serial_number


class TelemetryReading(models.Model):
    """One sample from a spreader's controller. Grows without bound: time-indexed, aggregated in SQL."""

    spreader = models.ForeignKey(Spreader, on_delete=models.CASCADE, related_name="readings")
    recorded_at = models.DateTimeField()
    twistlock_cycles = models.PositiveIntegerField()
    lifts = models.PositiveIntegerField()
    load_tonnes = models.FloatField()
    hydraulic_pressure_bar = models.FloatField()
    oil_temperature_c = models.FloatField()
    operating_hours = models.FloatField()

    class Meta:
        db_table = "api_telemetryreading"  # born in the api app; the table keeps its name
        ordering = ["spreader", "recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["spreader", "recorded_at"], name="reading_unique_per_instant"
            ),
        ]
        # The unique constraint's (spreader, recorded_at) btree serves per-spreader windows.
        # On PostgreSQL a BRIN index on recorded_at (migration 0002) keeps whole-table time
        # scans (retention, roll-ups) cheap at a few pages of index.

    def __str__(self) -> str:
        return f"{self.spreader_id} at {self.recorded_at:%Y-%m-%d %H:%M}"


class AlarmQuerySet(models.QuerySet["Alarm"]):
    def active(self) -> "AlarmQuerySet":
        return self.filter(cleared_at__isnull=True)

    def cleared(self) -> "AlarmQuerySet":
        return self.filter(cleared_at__isnull=False)


class Alarm(models.Model):
    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    spreader = models.ForeignKey(Spreader, on_delete=models.CASCADE, related_name="alarms")
    code = models.CharField(max_length=32)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.CharField(max_length=500)
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Who acknowledged: a person, or a token (partner code). The token model is named by string
    # so this module imports nothing from the token app below it.
    acknowledged_by_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by_token = models.ForeignKey(
        "tokens.PersonalAccessToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = AlarmQuerySet.as_manager()

    class Meta:
        db_table = "api_alarm"  # born in the api app; the table keeps its name
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["spreader", "-raised_at"]),
            models.Index(fields=["-raised_at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.spreader_id}"


class MaintenanceRecord(models.Model):
    class Kind(models.TextChoices):
        INSPECTION = "inspection", "Inspection"
        REPAIR = "repair", "Repair"
        PART_REPLACEMENT = "part_replacement", "Part replacement"
        LUBRICATION = "lubrication", "Lubrication"
        CALIBRATION = "calibration", "Calibration"

    spreader = models.ForeignKey(
        Spreader, on_delete=models.CASCADE, related_name="maintenance_records"
    )
    performed_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(max_length=4000)
    operating_hours = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_token = models.ForeignKey(
        "tokens.PersonalAccessToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        db_table = "api_maintenancerecord"  # born in the api app; the table keeps its name
        ordering = ["-performed_at", "-id"]
        indexes = [
            models.Index(fields=["spreader", "-performed_at"]),
            # The API's list pages in this order with a keyset cursor on (performed_at, id).
            models.Index(fields=["-performed_at", "-id"], name="maintenance_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.spreader_id} at {self.performed_at:%Y-%m-%d}"
