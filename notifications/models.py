"""The email outbox: the database row is the source of truth; Celery only delivers it."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User


class Notification(models.Model):
    class Kind(models.TextChoices):
        TOKEN_CREATED = "token_created", "Token created"
        TOKEN_EXPIRING = "token_expiring", "Token expires soon"
        TOKEN_EXPIRED = "token_expired", "Token expired"
        TOKEN_REVOKED = "token_revoked", "Token revoked"
        TOKEN_REGENERATED = "token_regenerated", "Token regenerated"
        TOKEN_LEAKED = "token_leaked", "Leaked token reported and revoked"
        TOKEN_IN_URL = "token_in_url", "Token sent in a URL"
        ANOMALY = "anomaly", "Anomaly found"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        MEMBER_INVITED = "member_invited", "Invited to an organisation"
        MEMBER_JOINED = "member_joined", "Member joined an organisation"
        MEMBER_REMOVED = "member_removed", "Member removed or left"
        TOKEN_DECISION = "token_decision", "Token request approved or denied"
        API_ACCESS_CHANGED = "api_access_changed", "Organisation's API access changed"
        PRODUCTION_REQUESTED = "production_requested", "Production access requested (to ops)"
        PRODUCTION_DECIDED = "production_decided", "Production access approved or declined"
        API_ANNOUNCEMENT = "api_announcement", "API changelog announcement"
        API_DEPRECATION = "api_deprecation", "API announcement: your tokens call what retires"
        TWO_FACTOR_CHANGED = "two_factor_changed", "Two-factor authentication changed"
        TWO_FACTOR_REQUIRED = "two_factor_required", "Organisation requires two-factor"
        WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled"
        AUDIT_CHAIN_BROKEN = "audit_chain_broken", "Audit chain broken (to ops)"
        SERVICE_CONTACT_NEEDED = "service_contact_needed", "Service account needs a new contact"

    # Kinds whose body carries a single-use link that works by itself (an invitation lets
    # whoever holds it create the invited account). Their body is kept only until it is sent,
    # and the ops console never shows it: a stored copy would be a second way in.
    CARRIES_A_LINK = frozenset({"member_invited"})

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    to_email = models.EmailField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # "token_expiring:42:7:2026-12-01" exists once, however many times a scan runs.
    dedup_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweeper: rows waiting or stuck in flight.
            models.Index(
                fields=["state", "created_at"],
                condition=Q(state__in=["queued", "sending"]),
                name="notification_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.state})"

    @property
    def carries_a_link(self) -> bool:
        return self.kind in self.CARRIES_A_LINK
