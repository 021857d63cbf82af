"""Ops console: people and organisations (members inline, token policy inline).

Ops (the "Ops" group) only view these; superusers change them. A change to an organisation's
members or token policy is an audit event with the person who made it as an ops actor: the
policy through tokens.services.update_token_policy (which audits and drops cached token
states), memberships through members.services (which audit, and revoke a leaver's tokens).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import transaction

from accounts.models import Membership, Organization, User
from core.errors import ServiceError
from members import services as member_services
from portal.admin import access as access_admin
from portal.admin.two_factor import may_reset, reset_two_factor_action
from tokens import scopes as scope_rules
from tokens import services as token_services
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.models import TokenPolicy

POLICY_FIELDS = [
    "max_lifetime_days",
    "allow_no_expiry",
    "member_scopes",
    "require_ip_allowlist",
    "default_rate_limit_per_hour",
    "revoke_unused_after_days",
    "auto_revoke_on_high_severity",
]

# --- people -----------------------------------------------------------------------------------


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")

    def clean_email(self) -> str:
        # Emails are the login and are stored lower-case (UserManager.create_user does the same).
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("Someone already signs in with this email.")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Someone already signs in with this email.")
        return email


class MembershipOfUserInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["organization", "role", "created_at"]
    readonly_fields = ["organization", "role", "created_at"]
    can_delete = False
    verbose_name_plural = "organisations (change them on the organisation's page)"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Ops users are staff in the "Ops" group, not superusers."""

    add_form_template = None
    form = UserEditForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "full_name", "password")}),
        ("Emails", {"fields": ("wants_expiry_reminders",)}),
        (
            "Two-factor authentication",
            {
                "fields": ("two_factor_enabled",),
                "description": "Whether the person signs in with a second factor. Their devices "
                "are never shown; the Reset action removes them all (with a reason).",
            },
        ),
        (
            "Admin access",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups"),
                "description": 'Ops staff: "staff" plus the Ops group. Keep superusers few.',
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ["last_login", "date_joined", "two_factor_enabled"]
    list_display = [
        "email",
        "full_name",
        "two_factor_enabled",
        "is_staff",
        "is_superuser",
        "is_active",
        "date_joined",
    ]
    list_filter = ["two_factor_enabled", "is_staff", "is_superuser", "is_active", "groups"]
    actions = [reset_two_factor_action]
    search_fields = ["email", "full_name"]
    ordering = ["email"]
    filter_horizontal = ["groups"]
    inlines = [MembershipOfUserInline]
    show_facets = admin.ShowFacets.NEVER

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []  # a new person belongs nowhere yet

    def has_reset_two_factor_permission(self, request, obj=None) -> bool:
        return may_reset(request)


# --- organisations ----------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "organization"
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


class TokenPolicyForm(forms.ModelForm):
    """The bounds tokens.services.update_token_policy enforces, as form fields, so a bad value
    is an error next to its field instead of a refusal after the organisation was saved."""

    max_lifetime_days = forms.IntegerField(min_value=1, max_value=token_services.MAX_LIFETIME_DAYS)
    default_rate_limit_per_hour = forms.IntegerField(
        min_value=1, max_value=token_services.MAX_RATE_LIMIT
    )
    revoke_unused_after_days = forms.IntegerField(
        min_value=1,
        max_value=token_services.MAX_LIFETIME_DAYS,
        required=False,
        help_text="Revoke tokens not used for this many days. Empty: never.",
    )
    member_scopes = forms.MultipleChoiceField(
        choices=[
            (scope, f"{scope} — {scope_rules.DESCRIPTIONS[scope]}")
            for scope in scope_rules.MEMBER_SCOPES
        ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Scopes members may grant. Organisation admins may grant every scope "
        "(audit:read only they may).",
    )

    class Meta:
        model = TokenPolicy
        fields = POLICY_FIELDS


class TokenPolicyInline(admin.StackedInline):
    model = TokenPolicy
    form = TokenPolicyForm
    can_delete = False
    max_num = 1
    extra = 1
    verbose_name_plural = "token policy"


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "api_access", "created_at"]
    # Issue 15: the level only through the "API access and plan" page (portal.admin.access).
    list_filter = ["api_access"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, TokenPolicyInline]
    show_facets = admin.ShowFacets.NEVER

    def get_prepopulated_fields(self, request, obj=None):
        # The slug is in URLs and emails: set once, when the organisation is made.
        return self.prepopulated_fields if obj is None else {}

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["created_at"]
        return ["slug", "created_at", "api_access_and_plan"]

    def get_fields(self, request, obj=None):
        fields = ["name", "slug", "created_at"]
        return [*fields, "api_access_and_plan"] if obj is not None else fields

    @admin.display(description="API access and plan")
    def api_access_and_plan(self, obj: Organization) -> str:
        return access_admin.api_access_summary(obj)

    def get_urls(self):
        return access_admin.api_access_urls(self) + super().get_urls()

    def save_formset(self, request, form, formset, change):
        if formset.model is TokenPolicy:
            self._save_policy(request, form.instance, formset)
        elif formset.model is Membership:
            self._save_memberships(request, form.instance, formset)
        else:
            super().save_formset(request, form, formset, change)

    def _save_policy(self, request, organization: Organization, formset) -> None:
        """Through the service: it audits the change (before/after) and drops cached states."""
        # What Django's own history entry (LogEntry) reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for policy_form in formset.forms:
            changes = {
                name: policy_form.cleaned_data[name]
                for name in policy_form.changed_data
                if name in POLICY_FIELDS
            }
            if not changes:
                continue
            try:
                policy = token_services.update_token_policy(
                    organization, actor=Actor.from_request(request, ops=True), **changes
                )
            except TokenError as error:
                self.message_user(
                    request, f"Token policy not changed: {error.message}", messages.ERROR
                )
            else:
                formset.changed_objects.append((policy, list(changes)))

    def _save_memberships(self, request, organization: Organization, formset) -> None:
        """Parse the inline, call members.services for each row, report revoked tokens.

        All rows or none: a refusal rolls back the rows before it and is an error message."""
        formset.save(commit=False)
        try:
            with transaction.atomic():
                saved, left = self._apply_memberships(
                    Actor.from_request(request, ops=True), organization, formset
                )
        except ServiceError as error:  # a MemberError, or a TokenError from revoking
            saved, left = ([], [], []), []
            self.message_user(request, f"Members not changed: {error.message}", messages.ERROR)
        # What Django's own history entry (LogEntry) reads from a saved formset.
        formset.deleted_objects, formset.new_objects, formset.changed_objects = saved
        for user, revoked in left:
            if revoked:
                self.message_user(
                    request,
                    f"{user.email} left {organization.name}: {revoked} of their tokens revoked.",
                    messages.WARNING,
                )

    @staticmethod
    def _apply_memberships(
        actor: Actor, organization: Organization, formset
    ) -> tuple[tuple[list, list, list], list[tuple[User, int]]]:
        """The saved formset's rows through the services: (deleted, new, changed) as stored, and
        (person who left, tokens revoked) for each leaver."""
        # The stored rows: a deleted form's instance may carry edits made before ticking "delete".
        stored = Membership.objects.select_related("user").in_bulk(
            [membership.pk for membership in formset.deleted_objects]
        )
        deleted, added, changed, left = [], [], [], []
        for membership in formset.deleted_objects:
            leaving = stored[membership.pk]
            left.append((leaving.user, member_services.remove_member(leaving, actor=actor)))
            deleted.append(leaving)
        for membership in formset.new_objects:
            added.append(
                member_services.add_member(
                    organization, user=membership.user, role=membership.role, actor=actor
                )
            )
        for membership, fields in formset.changed_objects:
            if "user" in fields:  # the row now points at someone else: they left, one joined
                replaced = member_services.replace_member(
                    membership, user=membership.user, role=membership.role, actor=actor
                )
                changed.append((replaced.membership, fields))
                left.append((replaced.previous_user, replaced.tokens_revoked))
            else:
                role_changed = member_services.change_role(
                    membership, role=membership.role, actor=actor
                )
                changed.append((role_changed, fields))
        return (deleted, added, changed), left
