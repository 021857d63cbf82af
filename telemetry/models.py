"""API usage: a row per partner-API request, hourly roll-ups, and anomaly findings."""

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organization
from tokens.models import PersonalAccessToken


class UsageRecord(models.Model):
    """One partner-API request (or failed authentication). Never the secret or the header."""

    # Unique with created_at (usage_request_unique below): on PostgreSQL the table is
    # partitioned by day and a unique key must hold the partition's column. A replayed stream
    # entry carries its first created_at, so the pair still makes it insert nothing.
    request_id = models.UUIDField(help_text="Makes a replayed stream entry insert nothing")
    created_at = models.DateTimeField(default=timezone.now, help_text="When the request was made")
    # When the row reached the database (the drain may be behind). The detection pass reads
    # only rows inserted a safety lag ago, so ids committed out of order are not skipped.
    inserted_at = models.DateTimeField(default=timezone.now, editable=False)
    token = models.ForeignKey(
        PersonalAccessToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_prefix = models.CharField(
        max_length=8, blank=True, help_text="Display prefix when well-formed"
    )
    method = models.CharField(max_length=8)
    route = models.CharField(
        max_length=200, help_text="The URL pattern, e.g. api/v1/spreaders/<serial>"
    )
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    response_bytes = models.PositiveIntegerField(default=0)
    auth_failure = models.CharField(
        max_length=32, blank=True, help_text="Why authentication failed, if it did"
    )
    # db_default too: raw inserts (generate_usage's COPY-style INSERT) name no such column.
    sandbox = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Made with a sandbox (qgs_) token, or an attempt at one",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request_id", "created_at"], name="usage_request_unique"
            )
        ]
        indexes = [
            models.Index(fields=["token", "-created_at"]),
            models.Index(fields=["organization", "-created_at"]),
            # BRIN on created_at for retention and full scans: migration (PostgreSQL only).
            # The burst rules count 401s / 403s per hour over the hours a pass touched: ~1% of
            # the rows each, found through these instead of reading every row of those hours.
            models.Index(
                fields=["created_at"], condition=models.Q(status=401), name="usage_401_created"
            ),
            models.Index(
                fields=["created_at"], condition=models.Q(status=403), name="usage_403_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class UsageHourly(models.Model):
    """Requests per token per hour, by status class: feeds the portal chart and anomaly baselines."""

    token = models.ForeignKey(PersonalAccessToken, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    status_2xx = models.PositiveIntegerField(default=0)
    status_3xx = models.PositiveIntegerField(default=0)
    status_4xx = models.PositiveIntegerField(default=0)
    status_5xx = models.PositiveIntegerField(default=0)
    distinct_ips = models.PositiveIntegerField(default=0)
    countries = models.JSONField(default=list)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["token", "hour"], name="usage_hourly_unique")
        ]

    def __str__(self) -> str:
        return f"{self.token_id} {self.hour:%Y-%m-%d %H}h: {self.requests}"


class Anomaly(models.Model):
    class Rule(models.TextChoices):
        NEW_COUNTRY = "new_country", "Used from a new country"
        IMPOSSIBLE_TRAVEL = "impossible_travel", "Impossible travel"
        VOLUME_SPIKE = "volume_spike", "Request volume spike"
        FAILED_AUTH_BURST = "failed_auth_burst", "Burst of failed authentications"
        REVOKED_TOKEN_USED = "revoked_token_used", "Revoked or expired token still in use"
        TOKEN_IN_URL = "token_in_url", "Token sent in a URL"
        SCOPE_DENIED_BURST = "scope_denied_burst", "Burst of scope denials"
        OLD_SECRET_REUSED = "old_secret_reused", "Rotated-out secret reused"
        NEW_IP = "new_ip", "New IP address"
        NEW_USER_AGENT = "new_user_agent", "New user agent"
        LEAKED_IN_PUBLIC = "leaked_in_public", "Found in public by secret scanning"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    rule = models.CharField(max_length=24, choices=Rule.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    token = models.ForeignKey(
        PersonalAccessToken,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="anomalies",
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the finding is about when there is no token (an IP guessing prefixes).
    subject = models.CharField(max_length=200, blank=True)
    window = models.CharField(
        max_length=40, help_text="Dedup window, e.g. the day or hour it fell in"
    )
    evidence = models.JSONField(default=dict)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        verbose_name_plural = "anomalies"
        constraints = [
            # One open finding per rule, token, subject and window. The token is coalesced to 0
            # because a unique index treats NULLs as distinct: findings without a token (an IP
            # guessing prefixes) would otherwise never be deduplicated. An expression index
            # works on PostgreSQL and SQLite alike (NULLS NOT DISTINCT is PostgreSQL 15+ only).
            models.UniqueConstraint(
                F("rule"),
                Coalesce(F("token"), Value(0)),
                F("subject"),
                F("window"),
                condition=Q(state="open"),
                name="anomaly_one_open_per_rule_token_window",
            ),
        ]
        indexes = [
            models.Index(fields=["token", "state"]),
            models.Index(fields=["organization", "-last_seen"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} ({self.severity})"


class TokenSighting(models.Model):
    """A country, IP or user agent a token has been used from, with when it was first/last seen.

    The memory of the new-country, new-IP, new-user-agent and impossible-travel rules: each pass
    compares its new rows with this small table instead of re-reading 30 days of the usage log.
    """

    class Kind(models.TextChoices):
        COUNTRY = "country", "Country"
        IP = "ip", "IP address"
        USER_AGENT = "user_agent", "User agent"

    token = models.ForeignKey(PersonalAccessToken, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=300)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "kind", "value"], name="sighting_unique")
        ]
        indexes = [models.Index(fields=["last_seen"])]

    def __str__(self) -> str:
        return f"{self.token_id} {self.kind} {self.value}"


class LeakAlert(models.Model):
    """A string a secret scanner found in public and sent us (GitHub's secret-scanning alerts),
    one of our tokens or not: one row per scanner, secret and place.

    The secret is kept only as its keyed hash (as TokenSecret.secret_hash), never as text. The
    same alert again moves `last_seen` and nothing else: the row is the alert's claim, inserted
    before anything is revoked, so a replayed or concurrent delivery acts once.
    """

    class Outcome(models.TextChoices):
        REVOKED = "revoked", "Our live token: revoked"
        ALREADY_DEAD = "already_dead", "Our token, already revoked, expired or rotated out"
        NOT_OURS = "not_ours", "Not one of our tokens"

    scanner = models.CharField(max_length=20)
    # SHA-256 of scanner, secret hash and URL: the alert's identity, short enough to index.
    alert_key = models.CharField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=64)
    token = models.ForeignKey(
        PersonalAccessToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_type = models.CharField(max_length=100, blank=True, help_text="The scanner's name for it")
    url = models.CharField(max_length=2048, blank=True, help_text="Where it was found")
    source = models.CharField(max_length=64, blank=True, help_text="commit, issue_comment, …")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    # The delivery that inserted the row: the one that acts on it.
    delivery = models.UUIDField()
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    times_seen = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_seen", "-id"]
        indexes = [models.Index(fields=["token", "-last_seen"])]

    def __str__(self) -> str:
        return f"{self.scanner} alert {self.get_outcome_display().lower()}: {self.url or '—'}"


class DetectionWatermark(models.Model):
    """How far a periodic pass has read the usage log (the last id it saw)."""

    name = models.CharField(max_length=50, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_id}"
