"""Portal forms. They collect and shape input; the token services decide what is allowed.

A form checks only what a person can get wrong before anything is asked of a service (a missing
date for "custom", a number that is not a number). Every rule of the organisation's policy is
the service's: its refusal (a core.errors.ServiceError) lands on the field it names through `add_service_error`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils import timezone

from core.errors import ServiceError
from fleet.models import Terminal
from tokens import scopes as scope_rules
from tokens.models import (
    AuditEvent,
    PersonalAccessToken,
    ProductionAccessRequest,
    ServiceAccount,
    TokenPolicy,
)
from tokens.services.approval import MAX_JUSTIFICATION

EXPIRY_PRESETS = (7, 30, 60, 90)
DEFAULT_PRESET = 30
OVERLAP_CHOICES = (
    (0, "Stop the old secret now"),
    (1, "Keep the old secret working for 1 hour"),
    (4, "Keep the old secret working for 4 hours"),
    (24, "Keep the old secret working for 24 hours"),
)


def posted(request) -> Any:
    """The POST data to bind a form to, or None on GET. An empty POST (every checkbox unticked)
    is still a submission, which `request.POST or None` would mistake for a GET."""
    return request.POST if request.method == "POST" else None


def add_service_error(form: forms.Form, error: ServiceError, aliases: dict[str, str] | None = None):
    """Show a service's refusal next to the input it is about (or above the form)."""
    field = (aliases or {}).get(error.field or "", error.field)
    form.add_error(field if field in form.fields else None, error.message)


# --- signing in -------------------------------------------------------------------------------


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. Both are case-"
        "sensitive except the email.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "type": "email"})
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class SudoForm(forms.Form):
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.", code="wrong_password")
        return password


class ChangePasswordForm(PasswordChangeForm):
    error_messages = {
        **PasswordChangeForm.error_messages,
        "password_incorrect": "That is not your current password.",
        "password_mismatch": "The two new passwords are not the same.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["new_password1"].label = "New password"
        self.fields["new_password2"].label = "New password again"
        self.fields[
            "new_password1"
        ].help_text = "At least 12 characters; not a common password and not like your email."
        self.fields["new_password2"].help_text = ""


# --- tokens -----------------------------------------------------------------------------------


class ScopeCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes that grey out the scopes the policy keeps for organisation admins."""

    def __init__(self, *args: Any, admin_only: frozenset[str] = frozenset(), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.admin_only = admin_only

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"]["data-access"] = (
            "write" if scope_rules.is_write_scope(str(value)) else "read"
        )
        if value in self.admin_only:
            option["attrs"]["disabled"] = True
        return option


def _split_ips(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


class NewTokenForm(forms.Form):
    # Issue 15: which data the token reaches. Limited in __init__ to what the organisation's API
    # access covers; the service refuses the rest in its own words.
    kind = forms.ChoiceField(
        label="Kind",
        choices=PersonalAccessToken.Kind.choices,
        # Not sent (a script, an older form): the widest kind the organisation has.
        required=False,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the token is for, e.g. “Berth planning sync”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional. Who runs the software that uses it, where it is deployed.",
    )
    expiry = forms.ChoiceField(label="Expiration", widget=forms.RadioSelect)
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Used when “Custom date” is chosen.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        required=False,  # the service says "choose at least one" in its own words
        choices=[(scope, scope_rules.DESCRIPTIONS[scope]) for scope in scope_rules.ALL_SCOPES],
    )
    terminal_access = forms.ChoiceField(
        label="Terminals",
        choices=PersonalAccessToken.TerminalAccess.choices,
        initial=PersonalAccessToken.TerminalAccess.ALL,
        widget=forms.RadioSelect,
    )
    terminals = forms.TypedMultipleChoiceField(
        label="Selected terminals",
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    allowed_ips = forms.CharField(
        label="IP allow-list",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One address or CIDR range per line (203.0.113.7, 198.51.100.0/24). "
        "Empty: any address.",
    )
    rate_limit_per_hour = forms.IntegerField(
        label="Rate limit (requests per hour)",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
    )
    notify_on_new_ip = forms.BooleanField(
        label="Email me when this token is used from a new IP address or user agent",
        required=False,
    )
    # Issue 17: shown (and, by the service, required) when the token waits for an admin.
    justification = forms.CharField(
        label="Justification",
        required=False,  # the service decides whether this token needs one
        max_length=MAX_JUSTIFICATION,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # Where a service's `field` shows up on this form.
    SERVICE_FIELDS = {"expires_at": "expiry"}

    def __init__(
        self,
        *args: Any,
        policy: TokenPolicy,
        terminals: list[Terminal],
        is_admin: bool,
        now: datetime | None = None,
        api_access: str = "production",
        service_accounts: Sequence[ServiceAccount] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._limit_kinds(api_access)
        self._add_owner_choice(service_accounts if is_admin else ())
        self.policy = policy
        self.now = now or timezone.now()
        self.is_admin = is_admin
        self.fields["expiry"].choices = self._expiry_choices()
        self.fields["expiry"].initial = (
            str(DEFAULT_PRESET)
            if policy.max_lifetime_days >= DEFAULT_PRESET
            else str(policy.max_lifetime_days)
        )
        today = self.now.date()
        self.fields["expires_on"].widget.attrs.update(
            {
                "min": (today + timedelta(days=1)).isoformat(),
                "max": (today + timedelta(days=policy.max_lifetime_days)).isoformat(),
            }
        )
        allowed = scope_rules.grantable(policy.member_scopes, admin=is_admin)
        self.admin_only = frozenset(set(scope_rules.ALL_SCOPES) - set(allowed))
        scopes = self.fields["scopes"]
        if not is_admin:
            # Not offered at all (audit:read): a member could never hold it, even by policy.
            scopes.choices = [
                c for c in scopes.choices if c[0] not in scope_rules.ADMIN_ONLY_SCOPES
            ]
        scopes.widget = ScopeCheckboxes(admin_only=self.admin_only, choices=scopes.choices)
        self.fields["terminals"].choices = [(t.pk, f"{t.code} · {t.name}") for t in terminals]
        self.fields[
            "rate_limit_per_hour"
        ].help_text = (
            f"Optional. Empty: the organisation's {policy.default_rate_limit_per_hour:,} per hour."
        )
        self.approval = "" if is_admin else policy.require_approval
        self.fields["justification"].help_text = _justification_help(self.approval)
        if policy.require_ip_allowlist:
            self.fields["allowed_ips"].help_text = (
                "Required by your organisation. One address or CIDR range per line "
                "(203.0.113.7, 198.51.100.0/24)."
            )

    def _limit_kinds(self, api_access: str) -> None:
        kind = self.fields["kind"]
        kind.initial = (
            PersonalAccessToken.Kind.PRODUCTION
            if api_access == "production"
            else PersonalAccessToken.Kind.SANDBOX
        )
        if api_access == "production":
            kind.help_text = (
                "Sandbox tokens (qgs_) read your sandbox fleet; production tokens (qgp_) read "
                "your real data."
            )
            return
        kind.choices = [c for c in kind.choices if c[0] == PersonalAccessToken.Kind.SANDBOX]
        kind.error_messages["invalid_choice"] = (
            "Your organisation has sandbox access only: choose a sandbox token (qgs_)."
        )
        kind.help_text = (
            "Your organisation has sandbox access: sandbox tokens (qgs_) only, on the sandbox "
            "fleet. An organisation admin can request production access."
        )

    def _add_owner_choice(self, service_accounts: Sequence[ServiceAccount]) -> None:
        """Issue 17: an admin may create the token for one of the organisation's service
        accounts. Members never see the choice (and the service refuses them anyway)."""
        self.service_accounts = {str(account.pk): account for account in service_accounts}
        if not self.service_accounts:
            return
        self.fields["owner"] = forms.ChoiceField(
            label="Owner",
            widget=forms.RadioSelect,
            initial="me",
            required=False,  # not sent (a script, an older form): a personal token
            choices=[("me", "For me: a personal token that ends when I leave")]
            + [
                (key, f"For the service account {account.name}: owned by the organisation")
                for key, account in self.service_accounts.items()
            ],
        )
        self.order_fields(["owner"])

    def chosen_service_account(self) -> ServiceAccount | None:
        return self.service_accounts.get(self.cleaned_data.get("owner", "me"))

    def _expiry_choices(self) -> list[tuple[str, str]]:
        longest = self.policy.max_lifetime_days

        def label(days: int, note: str = "") -> str:
            on = (self.now + timedelta(days=days)).strftime("%-d %b %Y")
            return f"{days} days{note} · {on}"

        choices = [(str(days), label(days)) for days in EXPIRY_PRESETS if days <= longest]
        if longest not in EXPIRY_PRESETS:
            choices.append((str(longest), label(longest, " (the longest allowed)")))
        choices.append(("custom", "Custom date"))
        if self.policy.allow_no_expiry:
            choices.append(("none", "No expiration"))
        return choices

    def scope_rows(self) -> list[dict[str, Any]]:
        """The scope checkboxes as a table: one row per resource, a read and a write column."""
        options = {str(w.data["value"]): w for w in self["scopes"]}
        rows = []
        for resource, (read, write) in scope_rules.RESOURCES.items():
            if read not in options:
                continue  # a scope this person is not offered
            rows.append(
                {
                    "resource": resource,
                    "read": options[read],
                    "read_admin_only": read in self.admin_only,
                    "write": options[write] if write else None,
                    "write_admin_only": bool(write) and write in self.admin_only,
                }
            )
        return rows

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or self.fields["kind"].initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("expiry") == "custom" and not cleaned.get("expires_on"):
            self.add_error("expires_on", "Pick the date the token should expire on.")
        return cleaned

    def expires_at(self) -> datetime | None:
        """The moment the chosen expiration means. The service checks it against the policy."""
        choice = self.cleaned_data["expiry"]
        if choice == "none":
            return None
        if choice == "custom":
            # The chosen day at the current time of day: "90 days from today" is then exactly
            # the policy's 90 days, not 90 days and some hours.
            chosen: date = self.cleaned_data["expires_on"]
            return self.now + timedelta(days=(chosen - self.now.date()).days)
        return self.now + timedelta(days=int(choice))

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "expires_at": self.expires_at(),
            "scopes": data["scopes"],
            "terminal_access": data["terminal_access"],
            "terminals": data["terminals"],
            "allowed_ips": _split_ips(data["allowed_ips"]),
            "rate_limit_per_hour": data["rate_limit_per_hour"],
            "notify_on_new_ip": data["notify_on_new_ip"],
            "justification": data["justification"],
            "kind": data["kind"],
        }

    @property
    def needs_approval(self) -> bool:
        """Whether an admin may have to approve this token (the page says so up front)."""
        return self.approval in (TokenPolicy.Approval.WRITE, TokenPolicy.Approval.ALL)


def _justification_help(approval: str) -> str:
    limit = f"At most {MAX_JUSTIFICATION:,} characters; your organisation's admins read it."
    if approval == TokenPolicy.Approval.ALL:
        return f"Required: an admin approves every member's token before it works. {limit}"
    if approval == TokenPolicy.Approval.WRITE:
        return (
            "Required when you choose a write scope: an admin approves such a token before it "
            f"works. {limit}"
        )
    return ""


class TokenSettingsForm(forms.Form):
    """What can change on a live token: nothing that gives it more power."""

    name = forms.CharField(label="Name", max_length=100)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    notify_on_new_ip = forms.BooleanField(
        label="Email me when this token is used from a new IP address or user agent",
        required=False,
    )


class RegenerateForm(forms.Form):
    overlap_hours = forms.TypedChoiceField(
        label="The old secret",
        choices=OVERLAP_CHOICES,
        coerce=int,
        initial=0,
        widget=forms.RadioSelect,
        help_text="An overlap lets you deploy the new secret before the old one stops working.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        help_text="Optional. Goes into the audit log (and the owner's email, if it isn't you).",
    )


# --- organisation -----------------------------------------------------------------------------


class PolicyForm(forms.Form):
    max_lifetime_days = forms.IntegerField(
        label="Longest token lifetime (days)",
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
    )
    allow_no_expiry = forms.BooleanField(label="Allow tokens that never expire", required=False)
    member_scopes = forms.MultipleChoiceField(
        label="Scopes members may grant",
        required=False,
        choices=[(scope, scope) for scope in scope_rules.MEMBER_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Organisation admins may grant every scope; audit:read only they may.",
    )
    require_ip_allowlist = forms.BooleanField(
        label="Require an IP allow-list on every new token", required=False
    )
    default_rate_limit_per_hour = forms.IntegerField(
        label="Default rate limit (requests per hour)",
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
    )
    revoke_unused_after_days = forms.IntegerField(
        label="Revoke tokens unused for (days)",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
        help_text="Empty: never.",
    )
    auto_revoke_on_high_severity = forms.BooleanField(
        label="Revoke a token at once when a high-severity anomaly is found", required=False
    )
    require_approval = forms.ChoiceField(
        label="Admin approval of members' tokens",
        choices=TokenPolicy.Approval.choices,
        required=False,  # not sent: the current setting stays (clean_require_approval)
        widget=forms.RadioSelect,
        help_text="A token that needs approval is created pending, with the member's "
        "justification; the API refuses it (403 token_pending_approval) until an admin approves "
        "it under Requests. Undecided requests lapse after 7 days. Admins' own tokens never wait. "
        "Tokens already issued are not affected.",
    )

    @classmethod
    def initial_from(cls, policy: TokenPolicy) -> dict[str, Any]:
        return {name: getattr(policy, name) for name in cls.base_fields}

    def clean_require_approval(self) -> str:
        return self.cleaned_data["require_approval"] or self.initial.get(
            "require_approval", TokenPolicy.Approval.OFF
        )


class AuditFilterForm(forms.Form):
    """GET filters of the audit log. Bad values are dropped, not shown as a failed page."""

    actor = forms.CharField(
        label="Actor",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"list": "audit-actors", "placeholder": "email or qgp_…"}),
    )
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *AuditEvent.Action.choices]
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class OrgTokenFilterForm(forms.Form):
    """GET filters of an organisation's token list. Bad values show the whole list."""

    STATUSES = (("", "Any status"), ("live", "Live (not revoked)"), ("revoked", "Revoked"))

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "name, qgp_… or owner"}),
    )
    status = forms.ChoiceField(label="Status", choices=STATUSES, required=False)
    OWNERS = (("", "Any owner"), ("user", "People (personal)"), ("service", "Service accounts"))
    owner = forms.ChoiceField(label="Owner", choices=OWNERS, required=False)


class FindingForm(forms.Form):
    """Acknowledge or resolve an anomaly finding: which button was pressed, and a note."""

    ACTIONS = (("acknowledge", "Acknowledge"), ("resolve", "Resolve"))

    action = forms.ChoiceField(choices=ACTIONS)
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Optional: what you found or did"}),
        help_text="Optional. Goes into the audit log with the change.",
    )


class FindingFilterForm(forms.Form):
    """GET filter of the findings list. A bad value shows the default list, not an error page."""

    STATES = (
        ("unresolved", "Open and acknowledged"),
        ("open", "Open"),
        ("acknowledged", "Acknowledged"),
        ("resolved", "Resolved"),
        ("all", "All"),
    )

    state = forms.ChoiceField(label="Show", choices=STATES, required=False)
    # One token's findings (the token page's "see them all"); a token the viewer may not see
    # simply matches nothing, as the list is already limited to what they may see.
    token = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class AccountForm(forms.Form):
    wants_expiry_reminders = forms.BooleanField(
        label="Email me 30 days, 7 days and 1 day before one of my tokens expires",
        required=False,
        help_text="Security notices (a token revoked, leaked or used oddly) are always sent.",
    )


class ProductionRequestForm(forms.Form):
    """Issue 15: what an organisation admin tells ops when asking for production access."""

    description = forms.CharField(
        label="Describe the integration",
        max_length=ProductionAccessRequest.DESCRIPTION_MAX,
        min_length=20,
        widget=forms.Textarea(
            attrs={"rows": 5, "maxlength": ProductionAccessRequest.DESCRIPTION_MAX}
        ),
        help_text="What your software does with the data, who runs it, and roughly how many "
        "requests an hour it makes. 20 to 2,000 characters. Never paste a token here.",
        error_messages={
            "required": "Describe the integration: ops read it to decide.",
            "min_length": "Say a little more (at least 20 characters): what it does and who runs "
            "it.",
        },
    )
