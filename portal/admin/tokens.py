"""Ops console: tokens (find, inspect, revoke with a reason) and the audit log (read-only).

Nothing here changes a token itself: the Revoke action (portal.admin.revoking) calls
tokens.services.revoke_token, which writes the audit event, queues the owner's email and drops the cached state. Every field
is read-only and there is no add or delete. The change permission on tokens means "may revoke"
(see portal/migrations/0002_ops_group.py); the change *form* stays display-only for everyone.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts.models import User
from core.admin_utils import LargeTableAdmin, ReadOnlyAdminMixin, pinned_filter
from portal.admin.revoking import (
    BOTH_LOCATIONS,
    PastedSecretRedirectMixin,
    may_revoke,
    revoke_tokens,
)
from telemetry.models import Anomaly
from tokens import format as token_format
from tokens.models import AuditEvent, PersonalAccessToken

# --- tokens -----------------------------------------------------------------------------------


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return PersonalAccessToken.State.choices

    def queryset(self, request, queryset):
        match self.value():
            case PersonalAccessToken.State.ACTIVE:
                return queryset.active()
            case PersonalAccessToken.State.EXPIRED:
                return queryset.expired()
            case PersonalAccessToken.State.REVOKED:
                return queryset.revoked()
        return queryset


class ExpiringSoonFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [("7d", "Expires within 7 days")]

    def queryset(self, request, queryset):
        if self.value() == "7d":
            return queryset.expiring_within(7)
        return queryset


class UnusedFilter(admin.SimpleListFilter):
    title = "use"
    parameter_name = "unused"

    def lookups(self, request, model_admin):
        return [("30d", "Live but unused for 30 days")]

    def queryset(self, request, queryset):
        if self.value() != "30d":
            return queryset
        return queryset.active().unused_since(timezone.now() - timedelta(days=30))


class OpenAnomaliesFilter(admin.SimpleListFilter):
    title = "anomalies"
    parameter_name = "anomalies"

    def lookups(self, request, model_admin):
        return [("open", "Has open anomalies")]

    def queryset(self, request, queryset):
        if self.value() != "open":
            return queryset
        open_findings = Anomaly.objects.filter(token=OuterRef("pk"), state=Anomaly.State.OPEN)
        return queryset.filter(Exists(open_findings))


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(PastedSecretRedirectMixin, ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = [
        "name",
        "display_prefix",
        "kind",
        "owner_email",
        "organization",
        "state_label",
        "scope_list",
        "expires_at",
        "last_used_at",
    ]
    list_display_links = ["name", "display_prefix"]
    list_select_related = ["owner", "organization"]
    list_filter = [
        StateFilter,
        "kind",
        "organization",
        ExpiringSoonFilter,
        UnusedFilter,
        OpenAnomaliesFilter,
    ]
    search_fields = ["^display_prefix", "owner__email", "organization__name"]
    search_help_text = "A display prefix (qgp_AbC1), an owner's email or an organisation's name."
    # Newest first by primary key: ids grow with creation time, and the key is indexed.
    ordering = ["-id"]
    sortable_by = ["name", "expires_at", "last_used_at"]
    # Capped count, no facets, no "Show all" (LargeTableAdmin): the list stays fast whatever
    # the number of tokens, and "select all" can never mean a hundred thousand of them.
    actions = ["revoke_selected"]
    fieldsets = [
        (
            None,
            {"fields": ["name", "display_prefix", "kind", "owner", "organization", "state_label"]},
        ),
        ("Related", {"fields": ["related_links"]}),
        (
            "What it may do",
            {
                "fields": [
                    "scopes",
                    "terminal_access",
                    "terminals",
                    "allowed_ips",
                    "rate_limit_per_hour",
                    "notify_on_new_ip",
                    "description",
                ]
            },
        ),
        (
            "Life",
            {
                "fields": [
                    "created_at",
                    "created_from_ip",
                    "created_user_agent",
                    "expires_at",
                    "regenerated_at",
                    "last_used_at",
                    "last_used_ip",
                    "recent_ips",
                ]
            },
        ),
        (
            "Revocation",
            {"fields": ["revoked_at", "revoked_by", "revoked_by_kind", "revocation_reason"]},
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.fieldsets for field in options["fields"]]

    # Tokens are born through services (portal, API, command) and never deleted (revoked
    # instead, keeping their audit trail); the form is display-only, even for superusers.
    def has_revoke_permission(self, request, obj=None):
        return may_revoke(request)

    @admin.action(
        description="Revoke this token…",
        description_plural="Revoke selected tokens…",
        permissions=["revoke"],
        location=BOTH_LOCATIONS,
    )
    def revoke_selected(self, request, queryset):
        return revoke_tokens(self, request, queryset)

    @admin.display(description="owner", ordering="owner__email")
    def owner_email(self, obj: PersonalAccessToken) -> str:
        return obj.owner.email

    @admin.display(description="state")
    def state_label(self, obj: PersonalAccessToken) -> str:
        return PersonalAccessToken.State(obj.state).label

    @admin.display(description="scopes")
    def scope_list(self, obj: PersonalAccessToken) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="see also")
    def related_links(self, obj: PersonalAccessToken) -> str:
        query = urlencode({"token": obj.pk})
        return format_html(
            '<a href="{}?{}">Audit log</a> · <a href="{}?{}">Usage log</a> · '
            '<a href="{}?{}">Anomalies</a>',
            reverse("admin:tokens_auditevent_changelist"),
            query,
            reverse("admin:telemetry_usagerecord_changelist"),
            query,
            reverse("admin:telemetry_anomaly_changelist"),
            query,
        )


# --- audit log --------------------------------------------------------------------------------

# Users matched by a partial email: enough for a domain, bounded for a single letter.
_MAX_MATCHED_USERS = 200


def audit_search(term: str) -> Q | None:
    """What a search term means in the audit log, as indexed lookups where there is an index.

    A display prefix (qgp_AbC1) -> token_prefix (indexed). An email (or part of one) -> events
    by those people or about their tokens, resolved to ids first so the big table is probed
    through its actor_user and token indexes. An IP address -> ip. Anything else -> the actor
    label ("anomaly detection", "manage.py"). None means "matches nothing".
    """
    if term.startswith(token_format.PREFIX):
        prefix = term[: len(token_format.PREFIX) + token_format.DISPLAY_BODY_CHARS]
        if len(prefix) == 8:
            return Q(token_prefix=prefix)
        return Q(token_prefix__startswith=prefix)
    if "@" in term:
        user_ids = list(
            User.objects.filter(email__icontains=term).values_list("pk", flat=True)[
                :_MAX_MATCHED_USERS
            ]
        )
        if not user_ids:
            return None
        owned = PersonalAccessToken.objects.filter(owner_id__in=user_ids).values("pk")
        return Q(actor_user_id__in=user_ids) | Q(token_id__in=owned)
    try:
        return Q(ip=str(ipaddress.ip_address(term)))
    except ValueError:
        return Q(actor_label=term)


@admin.register(AuditEvent)
class AuditEventAdmin(PastedSecretRedirectMixin, ReadOnlyAdminMixin, LargeTableAdmin):
    """Append-only for everyone: no add, change or delete (the model and, on PostgreSQL, a
    trigger refuse them too)."""

    list_display = ["created_at", "action", "actor", "organization", "token_link", "ip", "summary"]
    list_display_links = ["created_at"]
    list_select_related = ["organization"]
    list_filter = [
        "action",
        "actor_kind",
        "organization",
        "created_at",
        pinned_filter("token", PersonalAccessToken, "token"),
    ]
    # The field is a placeholder: get_search_results below decides what a term means.
    search_fields = ["token_prefix"]
    search_help_text = "A token prefix (qgp_AbC1), an email (or part of one), or an IP address."
    ordering = ["-created_at", "-id"]  # served by the created_at index
    sortable_by = ["created_at"]
    actions = None
    fields = [
        "created_at",
        "action",
        "actor_kind",
        "actor_label",
        "actor_user",
        "actor_token",
        "organization",
        "token",
        "token_prefix",
        "ip",
        "user_agent",
        "pretty_details",
        "chain_seq",
        "prev_hash",
        "hash",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = audit_search(term)
        return (queryset.filter(condition) if condition else queryset.none()), False

    @admin.display(description="actor")
    def actor(self, obj: AuditEvent) -> str:
        return f"{obj.actor_label or '—'} ({obj.get_actor_kind_display().lower()})"

    @admin.display(description="token")
    def token_link(self, obj: AuditEvent) -> str:
        # By id and the stored prefix: no join to the tokens table for a list of events.
        if obj.token_id is None:
            return obj.token_prefix or "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:tokens_personalaccesstoken_change", args=[obj.token_id]),
            obj.token_prefix or f"#{obj.token_id}",
        )

    @admin.display(description="details")
    def summary(self, obj: AuditEvent) -> str:
        text = ", ".join(f"{key}: {value}" for key, value in (obj.details or {}).items())
        return text if len(text) <= 80 else f"{text[:79]}…"

    @admin.display(description="details")
    def pretty_details(self, obj: AuditEvent) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.details, indent=2, ensure_ascii=False, default=str)
        )
