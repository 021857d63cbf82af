"""The credential and its trail: TokenPolicy, PersonalAccessToken, TokenSecret, AuditEvent."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization, User
from fleet.models import Terminal
from tokens import scopes as scope_rules
from tokens.allowlist import ip_allowed


class TokenPolicy(models.Model):
    """An organisation's rules for its members' tokens. Enforced by the services, not by forms."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="token_policy"
    )
    max_lifetime_days = models.PositiveIntegerField(default=90)
    allow_no_expiry = models.BooleanField(default=False)
    member_scopes = models.JSONField(
        default=scope_rules.all_scopes,
        help_text="Scopes members may grant. Organisation admins may grant every scope.",
    )
    require_ip_allowlist = models.BooleanField(default=False)
    default_rate_limit_per_hour = models.PositiveIntegerField(default=5000)
    revoke_unused_after_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Revoke tokens not used for this many days. Empty: never."
    )
    auto_revoke_on_high_severity = models.BooleanField(
        default=False, help_text="Revoke a token at once when a high-severity anomaly is found."
    )

    class Approval(models.TextChoices):
        OFF = "off", "No approval needed"
        WRITE = "write", "Tokens with a write scope need an admin's approval"
        ALL = "all", "Every member's token needs an admin's approval"

    # Issue 17: members' tokens wait for an admin before the API accepts them.
    require_approval = models.CharField(max_length=8, choices=Approval.choices, default="off")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Token policy of {self.organization}"

    @property
    def max_lifetime(self) -> timedelta:
        return timedelta(days=self.max_lifetime_days)


class TokenQuerySet(models.QuerySet["PersonalAccessToken"]):
    def active(self) -> "TokenQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )

    def revoked(self) -> "TokenQuerySet":
        return self.filter(revoked_at__isnull=False)

    def expired(self) -> "TokenQuerySet":
        return self.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())

    def for_org(self, organization: Organization) -> "TokenQuerySet":
        return self.filter(organization=organization)

    def owned_by(self, user: User) -> "TokenQuerySet":
        return self.filter(owner=user)

    def expiring_within(self, days: int) -> "TokenQuerySet":
        now = timezone.now()
        return self.filter(
            revoked_at__isnull=True, expires_at__gt=now, expires_at__lte=now + timedelta(days=days)
        )

    def unused_since(self, moment: datetime) -> "TokenQuerySet":
        """Tokens not used since `moment`. Never used counts from creation: a token made
        yesterday is not "unused for 30 days"."""
        return self.filter(
            Q(last_used_at__lt=moment) | Q(last_used_at__isnull=True, created_at__lt=moment)
        )


class PersonalAccessToken(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    class ApprovalState(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        LAPSED = "lapsed", "Request expired"

    class TerminalAccess(models.TextChoices):
        ALL = "all", "All terminals of the organisation"
        SELECTED = "selected", "Selected terminals only"

    class RevokedBy(models.TextChoices):
        OWNER = "owner", "its owner"
        ORG_ADMIN = "org_admin", "an organisation admin"
        OPS = "ops", "Quaygate ops"
        ANOMALY = "anomaly", "anomaly detection"
        LEAK_REPORT = "leak_report", "a leaked-token report"
        ROTATION = "rotation", "rotation"
        UNUSED = "unused", "the unused-token policy"
        SYSTEM = "system", "the system"
        DENIED = "denied", "an admin's denial of the request"

    class Kind(models.TextChoices):
        PRODUCTION = "production", "Production (qgp_)"
        SANDBOX = "sandbox", "Sandbox (qgs_)"

    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="tokens")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PRODUCTION)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=1000)
    display_prefix = models.CharField(
        max_length=8, db_index=True, help_text='"qgp_" and 4 characters'
    )

    scopes = models.JSONField(default=list)
    terminal_access = models.CharField(
        max_length=10, choices=TerminalAccess.choices, default=TerminalAccess.ALL
    )
    terminals = models.ManyToManyField(Terminal, blank=True, related_name="+")
    allowed_ips = models.JSONField(
        default=list, blank=True, help_text="CIDRs; empty means any address"
    )
    rate_limit_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the policy"
    )
    notify_on_new_ip = models.BooleanField(
        default=False,
        help_text="Email the owner when the token is used from a new IP or user agent.",
    )

    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_from_ip = models.GenericIPAddressField(null=True, blank=True)
    created_user_agent = models.CharField(max_length=300, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    recent_ips = models.JSONField(default=list, blank=True, help_text="Last 5 distinct client IPs")
    regenerated_at = models.DateTimeField(null=True, blank=True)
    # Set by expire_due_tokens once the "expired" audit event is written, so it is written once.
    expired_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_by_kind = models.CharField(max_length=12, choices=RevokedBy.choices, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)
    # Issue 17: approval by an organisation admin ("" = none was needed).
    approval = models.CharField(max_length=10, choices=ApprovalState.choices, blank=True)
    justification = models.TextField(blank=True, max_length=2000)
    approval_decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approval_decided_at = models.DateTimeField(null=True, blank=True)
    approval_note = models.CharField(max_length=500, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "personal access token"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(revoked_at__isnull=True),
                name="token_name_unique_per_owner_while_active",
            ),
        ]
        indexes = [
            # The expiry scan: live tokens by expiry date.
            models.Index(
                fields=["expires_at"],
                condition=Q(revoked_at__isnull=True),
                name="token_live_expiry_idx",
            ),
            # expire_due_tokens: live tokens whose expiry is not recorded yet.
            models.Index(
                fields=["expires_at", "id"],
                condition=Q(revoked_at__isnull=True, expired_recorded_at__isnull=True),
                name="token_expiry_unrecorded_idx",
            ),
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["owner", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.is_expired:
            return self.State.EXPIRED
        return self.State.ACTIVE

    @property
    def is_pending(self) -> bool:
        return self.approval == self.ApprovalState.PENDING and self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def effective_scopes(self) -> frozenset[str]:
        return scope_rules.effective(self.scopes)

    def has_scope(self, needed: str) -> bool:
        return scope_rules.grants(self.scopes, needed)

    def allows_ip(self, ip: str | None) -> bool:
        return ip_allowed(self.allowed_ips, ip)

    def expires_soon(self, days: int = 7) -> bool:
        return (
            self.is_active
            and self.expires_at is not None
            and self.expires_at <= timezone.now() + timedelta(days=days)
        )

    def effective_rate_limit(self, policy_limit: int | None = None) -> int:
        """Requests per hour: the token's own limit, else its organisation's default
        (`policy_limit`, the policy's default_rate_limit_per_hour; None without a policy),
        else the site's. An int, not a TokenPolicy: authentication has it from a subquery."""
        return (
            self.rate_limit_per_hour
            or policy_limit
            or settings.QUAYGATE["DEFAULT_RATE_LIMIT_PER_HOUR"]
        )


class TokenSecret(models.Model):
    """A secret a token has (or had). Only its keyed hash is stored.

    The current secret has retired_at = None. Regeneration retires the old one, optionally with
    an overlap window (`valid_until`) during which it is still accepted, as Stripe's key roll does.
    Retired hashes are kept, so a rotated-out secret still in use is recognised and reported.
    """

    token = models.ForeignKey(PersonalAccessToken, on_delete=models.CASCADE, related_name="secrets")
    secret_hash = models.CharField(max_length=64, unique=True)
    display_prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the rotation overlap"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.display_prefix}… of token {self.token_id}"

    def accepted_at(self, moment) -> bool:
        if self.retired_at is None:
            return True
        return self.valid_until is not None and moment < self.valid_until

    def leak_needs_revoking(self, moment) -> bool:
        """A leak of this secret revokes its token: the token is not revoked yet and the secret
        still opens it (current, or in its rotation overlap). A rotated-out secret that no
        longer works needs nothing; an expired token is revoked, so it is never regenerated."""
        return self.token.revoked_at is None and self.accepted_at(moment)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only")

    def delete(self):
        raise PermissionError("The audit log is append-only")

    def for_org(self, organization: Organization) -> "AuditEventQuerySet":
        return self.filter(organization=organization)


class AuditEvent(models.Model):
    """Append-only: the model refuses update and delete; on PostgreSQL a trigger does too."""

    class ActorKind(models.TextChoices):
        USER = "user", "User"
        TOKEN = "token", "Token"
        OPS = "ops", "Ops"
        SYSTEM = "system", "System"
        CLI = "cli", "Command line"
        ANONYMOUS = "anonymous", "Anonymous"

    class Action(models.TextChoices):
        TOKEN_CREATED = "token.created", "Token created"
        TOKEN_REGENERATED = "token.regenerated", "Token regenerated"
        TOKEN_ROTATED = "token.rotated", "Token rotated through the API"
        TOKEN_REVOKED = "token.revoked", "Token revoked"
        TOKEN_EXPIRED = "token.expired", "Token expired"
        TOKEN_UPDATED = "token.updated", "Token settings changed"
        TOKEN_IN_URL = "token.in_url", "Token sent in a URL"
        TOKEN_LEAK_REPORTED = "token.leak_reported", "Leaked token reported"
        OLD_SECRET_USED = "token.old_secret_used", "Rotated-out secret used"
        AUTH_FAILED = "auth.failed", "Authentication failed"
        POLICY_CHANGED = "policy.changed", "Token policy changed"
        ANOMALY_FOUND = "anomaly.found", "Anomaly found"
        ANOMALY_UPDATED = "anomaly.updated", "Anomaly acknowledged or resolved"
        USER_LOGIN = "user.login", "Signed in"
        USER_LOGIN_FAILED = "user.login_failed", "Sign-in failed"
        NOTIFICATION_RETRIED = "notification.retried", "Failed email sent again"
        MEMBERSHIP_CHANGED = "membership.changed", "Organisation membership changed"
        PASSWORD_CHANGED = "user.password_changed", "Password changed"
        MEMBER_INVITED = "member.invited", "Member invited"
        MEMBER_JOINED = "member.joined", "Member joined"
        MEMBER_ROLE_CHANGED = "member.role_changed", "Member's role changed"
        MEMBER_REMOVED = "member.removed", "Member removed"
        MEMBER_LEFT = "member.left", "Member left"
        INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
        TOKEN_APPROVED = "token.approved", "Token request approved"
        TOKEN_DENIED = "token.denied", "Token request denied"
        TOKEN_REQUEST_LAPSED = "token.request_lapsed", "Token request expired"
        API_ACCESS_CHANGED = "org.api_access_changed", "Organisation's API access changed"
        SANDBOX_RESET = "sandbox.reset", "Sandbox fleet reset"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_token = models.ForeignKey(
        PersonalAccessToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Email, token prefix or process"
    )
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(
        PersonalAccessToken,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    token_prefix = models.CharField(max_length=8, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["token", "-created_at"]),
            # Ops search the log by address during an incident; a rare address must be quick.
            models.Index(fields=["ip", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} by {self.actor_label or self.actor_kind}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only")
