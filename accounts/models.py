"""Accounts: people (email is the login), port-owner organisations and their memberships."""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)

    def admins_of(self, organization_id: int):
        """The active admins of an organisation: who its notices go to."""
        return self.filter(
            is_active=True,
            memberships__organization_id=organization_id,
            memberships__role=Membership.Role.ADMIN,
        ).order_by("pk")


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the ops admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Reminder emails (expiry warnings) can be turned off; security notices cannot.
    wants_expiry_reminders = models.BooleanField(default=True)
    # Issue 16: a confirmed authenticator app or passkey. Kept by twofactor.services (the one
    # writer) so the members page, the admin list and sign-in read it without a device query.
    two_factor_enabled = models.BooleanField(default=False, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Organization(models.Model):
    """A port owner: the tenant. Its members' tokens see only its fleet."""

    class ApiAccess(models.TextChoices):
        """The partner-API entitlement (issue 15): a paid add-on, sandbox first."""

        NONE = "none", "No API access"
        SANDBOX = "sandbox", "Sandbox only"
        PRODUCTION = "production", "Production"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Changed only through tokens.services.set_api_access (audit event, cache forgets tokens).
    api_access = models.CharField(
        max_length=10, choices=ApiAccess.choices, default=ApiAccess.NONE, editable=False
    )
    # The plan (issue 15): ceilings ops set per organisation. Empty: the site's default
    # (settings.QUAYGATE["PLAN_*"]). Changed through tokens.services.set_plan, which audits it
    # and drops the cached token states, since the ceiling is carried in them.
    plan_rate_limit_per_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Most requests per hour any production token may make. Empty: site default.",
    )
    plan_sandbox_rate_limit_per_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Most requests per hour any sandbox token may make. Empty: site default.",
    )
    plan_max_active_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Most tokens the organisation may have alive at once. Empty: site default.",
    )
    # Issue 16: "members must use two-factor authentication", on since then (None: off).
    # Changed only through twofactor.services.set_two_factor_requirement.
    two_factor_required_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("change_api_access", "Can change the API access level and plan"),
        ]

    def __str__(self) -> str:
        return self.name

    def rate_ceiling(self, kind: str) -> int:
        """The plan's hourly ceiling for a token of `kind`: caps every token's own limit."""
        if kind == "sandbox":
            own = self.plan_sandbox_rate_limit_per_hour
            return own or settings.QUAYGATE["PLAN_SANDBOX_RATE_LIMIT_PER_HOUR"]
        return self.plan_rate_limit_per_hour or settings.QUAYGATE["PLAN_RATE_LIMIT_PER_HOUR"]

    @property
    def max_active_tokens(self) -> int:
        return self.plan_max_active_tokens or settings.QUAYGATE["PLAN_MAX_ACTIVE_TOKENS"]

    def api_allows(self, kind: str) -> bool:
        """May a token of `kind` ("production" / "sandbox") reach the API now?"""
        return api_access_allows(self.api_access, kind)


def api_access_allows(level: str, kind: str) -> bool:
    """A sandbox token needs sandbox or production; a production token needs production."""
    if level == Organization.ApiAccess.PRODUCTION:
        return True
    return level == Organization.ApiAccess.SANDBOX and kind == "sandbox"


class MembershipQuerySet(models.QuerySet["Membership"]):
    def admins(self) -> "MembershipQuerySet":
        return self.filter(role=Membership.Role.ADMIN)

    def is_admin(self, *, user: User, organization: Organization) -> bool:
        return self.admins().filter(user=user, organization=organization).exists()

    def role_of(self, *, user: User, organization: Organization) -> str | None:
        """The role `user` holds in `organization`, or None when they are not a member."""
        return (
            self.filter(user=user, organization=organization).values_list("role", flat=True).first()
        )


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Organisation admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    # Issue 16: set while the organisation requires 2FA and this member has none; their tokens
    # in the organisation stop working at this moment (401, owner_without_2fa) until they
    # enrol. Written only by twofactor.services; read by token verification with the token.
    two_factor_deadline = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="membership_unique_user_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def blocked_by_two_factor(self) -> bool:
        """The organisation requires 2FA and this member has none: they may only enrol."""
        return self.organization.two_factor_required_at is not None and not (
            self.user.two_factor_enabled
        )

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN
