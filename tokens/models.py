"""The credential and its trail: TokenPolicy, PersonalAccessToken, TokenSecret, AuditEvent."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Organization, User
from fleet.models import Terminal
from tokens import audit_chain
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
        default=scope_rules.member_scopes,
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


class ServiceAccount(models.Model):
    """An organisation's own identity for an integration ("SAP connector"): its tokens belong to
    the organisation, not to the admin who made them, so they outlive that person's membership.
    The contact is the member who gets the tokens' expiry and security emails; when they leave
    the organisation it is cleared and the account "needs a new contact" until an admin names
    one. Archived accounts keep their history; their tokens are revoked."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="service_accounts"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=1000)
    contact = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "organization",
                condition=Q(archived_at__isnull=True),
                name="service_account_name_unique_per_org",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def needs_contact(self) -> bool:
        return self.archived_at is None and self.contact_id is None


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

    def pending(self) -> "TokenQuerySet":
        """Waiting for an organisation admin's approval (issue 17)."""
        return self.filter(approval="pending", revoked_at__isnull=True)

    def for_org(self, organization: Organization) -> "TokenQuerySet":
        return self.filter(organization=organization)

    def owned_by(self, user: User) -> "TokenQuerySet":
        """The person's own (personal) tokens: service tokens they created belong to the
        organisation."""
        return self.filter(owner=user, service_account__isnull=True)

    def personal(self) -> "TokenQuerySet":
        return self.filter(service_account__isnull=True)

    def of_service_accounts(self) -> "TokenQuerySet":
        return self.filter(service_account__isnull=False)

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

    # For a service token, `owner` is the admin who created it (kept for the history) and the
    # token belongs to the organisation through `service_account`.
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="tokens")
    service_account = models.ForeignKey(
        ServiceAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tokens",
        help_text="Set for a service token: owned by the organisation, not by a person.",
    )
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
                condition=Q(revoked_at__isnull=True, service_account__isnull=True),
                name="token_name_unique_per_owner_while_active",
            ),
            models.UniqueConstraint(
                fields=["service_account", "name"],
                condition=Q(revoked_at__isnull=True, service_account__isnull=False),
                name="token_name_unique_per_service_account_while_active",
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
    def is_service_token(self) -> bool:
        return self.service_account_id is not None

    @property
    def owner_type(self) -> str:
        return "service_account" if self.service_account_id is not None else "user"

    @property
    def responsible(self) -> User | None:
        """Who hears about this token: its owner, or its service account's contact (None
        while the account needs a new one)."""
        if self.service_account_id is None:
            return self.owner
        return self.service_account.contact

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


class AuditChainHead(models.Model):
    """The end of one audit chain (an organisation's, or "platform"): its last seq and hash.
    Writers lock this row to append, so a chain cannot fork; customers note `hash` + `seq`."""

    key = models.CharField(max_length=32, unique=True, help_text='"org:<id>" or "platform"')
    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seq = models.PositiveBigIntegerField(default=0, help_text="Events in the chain")
    hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.key} at {self.seq}"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def bulk_create(self, objs, *args, **kwargs):
        """Every insert joins its chain, bulk ones too (expire_due_tokens)."""
        events = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            audit_chain.link_events(events, head_model=AuditChainHead)
            return super().bulk_create(events, *args, **kwargs)

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
        PLAN_CHANGED = "org.plan_changed", "Organisation's plan changed"
        PRODUCTION_REQUESTED = "org.production_requested", "Production access requested"
        PRODUCTION_APPROVED = "org.production_approved", "Production access request approved"
        PRODUCTION_DECLINED = "org.production_declined", "Production access request declined"
        ANNOUNCEMENT_PUBLISHED = "announcement.published", "API announcement published"
        TWO_FACTOR_ENABLED = "user.2fa_enabled", "Two-factor authentication turned on"
        TWO_FACTOR_DISABLED = "user.2fa_disabled", "Two-factor authentication turned off"
        RECOVERY_CODE_USED = "user.recovery_code_used", "Recovery code used"
        PASSKEY_ADDED = "user.passkey_added", "Passkey added"
        TWO_FACTOR_POLICY_CHANGED = "org.2fa_policy_changed", "Two-factor requirement changed"
        WEBHOOK_CREATED = "webhook.created", "Webhook endpoint added"
        WEBHOOK_UPDATED = "webhook.updated", "Webhook endpoint changed"
        WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", "Webhook signing secret rotated"
        WEBHOOK_DISABLED = "webhook.disabled", "Webhook endpoint disabled"
        WEBHOOK_ENABLED = "webhook.enabled", "Webhook endpoint enabled"
        WEBHOOK_DELETED = "webhook.deleted", "Webhook endpoint deleted"
        SERVICE_ACCOUNT_CREATED = "service_account.created", "Service account created"
        SERVICE_ACCOUNT_CONTACT_CHANGED = (
            "service_account.contact",
            "Service account's contact changed",
        )
        SERVICE_ACCOUNT_ARCHIVED = "service_account.archived", "Service account archived"
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
    # Tamper evidence (tokens.audit_chain): set on insert, under the chain head's lock.
    chain = models.ForeignKey(AuditChainHead, on_delete=models.PROTECT, related_name="+")
    chain_seq = models.PositiveBigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["token", "-created_at"]),
            # Ops search the log by address during an incident; a rare address must be quick.
            models.Index(fields=["ip", "-created_at"]),
        ]
        constraints = [
            # The chain cannot fork: one event per position, whatever a writer does.
            models.UniqueConstraint(fields=["chain", "chain_seq"], name="audit_chain_position")
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} by {self.actor_label or self.actor_kind}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The audit log is append-only")
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            audit_chain.link_events([self], head_model=AuditChainHead)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only")


class ProductionAccessRequest(models.Model):
    """An organisation admin's request to reach production data (issue 15), decided by ops.

    One open request per organisation (a partial unique index). Approving calls
    tokens.services.set_api_access; the decision is kept with its reason, never deleted.
    """

    class State(models.TextChoices):
        OPEN = "open", "Waiting for ops"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    DESCRIPTION_MAX = 2000

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="production_requests"
    )
    requested_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="production_requests"
    )
    description = models.TextField(max_length=DESCRIPTION_MAX)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "production access request"
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="open"),
                name="production_request_one_open_per_org",
            ),
        ]
        indexes = [models.Index(fields=["state", "-created_at"])]

    def __str__(self) -> str:
        return f"Production access for {self.organization} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class AuditChainBreak(models.Model):
    """A broken audit chain found by the daily check (tokens.services.chain), for ops to see
    in the admin. One row per chain per day it is found broken."""

    found_at = models.DateTimeField(default=timezone.now, db_index=True)
    chain = models.ForeignKey(AuditChainHead, on_delete=models.PROTECT, related_name="breaks")
    event_id = models.BigIntegerField(null=True, blank=True, help_text="The first broken event")
    seq = models.PositiveBigIntegerField(null=True, blank=True)
    problem = models.CharField(max_length=200)
    events_checked = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-found_at", "-id"]

    def __str__(self) -> str:
        return f"{self.chain.key} broken at seq {self.seq}: {self.problem}"
