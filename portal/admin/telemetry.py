"""Ops console: the usage log (read-only, fast on millions of rows) and anomaly findings
(acknowledge, resolve, revoke the token), each change through a service as an ops actor."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.admin_utils import (
    LargeTableAdmin,
    ReadOnlyAdminMixin,
    ask_reason,
    pinned_filter,
)
from portal.admin.revoking import (
    BOTH_LOCATIONS,
    PastedSecretRedirectMixin,
    may_revoke,
    revoke_tokens,
)
from telemetry import services as telemetry_services
from telemetry.models import Anomaly, UsageRecord
from tokens import format as token_format
from tokens.actors import Actor
from tokens.models import PersonalAccessToken

# Acknowledging or resolving is one transaction per finding; past this, filter first.
MAX_FINDINGS_AT_ONCE = 500
_LISTED = 50


def token_link(token_id: int | None, label: str) -> str:
    """A link to a token by id, without loading the token (lists of big tables stay one query)."""
    if token_id is None:
        return label or "—"
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:tokens_personalaccesstoken_change", args=[token_id]),
        label or f"#{token_id}",
    )


def pretty_json(value: object) -> str:
    return format_html(
        "<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False, default=str)
    )


# --- usage log --------------------------------------------------------------------------------


class StatusClassFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return [("2", "2xx"), ("3", "3xx"), ("4", "4xx"), ("5", "5xx")]

    def queryset(self, request, queryset):
        value = self.value()
        if value in {"2", "3", "4", "5"}:
            low = int(value) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset


class MethodFilter(admin.SimpleListFilter):
    """Fixed choices: Django's default for a plain field lists its DISTINCT values, which reads
    the whole usage log on every page view."""

    title = "method"
    parameter_name = "method"

    def lookups(self, request, model_admin):
        return [(method, method) for method in ("GET", "POST", "PUT", "PATCH", "DELETE")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(method=self.value())
        return queryset


class AuthFailureFilter(admin.SimpleListFilter):
    title = "authentication"
    parameter_name = "auth"

    def lookups(self, request, model_admin):
        return [("failed", "Failed"), ("ok", "Succeeded or not needed")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.exclude(auth_failure="")
        if self.value() == "ok":
            return queryset.filter(auth_failure="")
        return queryset


def usage_search(term: str) -> Q:
    """A display prefix -> the tokens with it (through the usage log's token index), or the
    stored prefix of requests whose token is unknown; an IP address -> ip; else the route."""
    if term.startswith(token_format.PREFIX):
        prefix = term[: len(token_format.PREFIX) + token_format.DISPLAY_BODY_CHARS]
        token_ids = list(
            PersonalAccessToken.objects.filter(display_prefix=prefix).values_list("pk", flat=True)
        )
        if token_ids:
            return Q(token_id__in=token_ids)
        return Q(token_prefix=prefix)
    try:
        return Q(ip=str(ipaddress.ip_address(term)))
    except ValueError:
        return Q(route=term)


@admin.register(UsageRecord)
class UsageRecordAdmin(PastedSecretRedirectMixin, ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = [
        "created_at",
        "method",
        "path",
        "status",
        "latency_ms",
        "token_column",
        "organization",
        "ip",
        "country",
        "auth_failure",
    ]
    list_display_links = ["created_at"]
    list_select_related = ["organization"]
    list_filter = [
        StatusClassFilter,
        AuthFailureFilter,
        MethodFilter,
        "organization",
        "created_at",
        pinned_filter("token", PersonalAccessToken, "token"),
    ]
    search_fields = ["token_prefix"]  # placeholder: get_search_results decides
    search_help_text = "A token prefix (qgp_AbC1), an IP address, or a route (api/v1/spreaders/)."
    # Newest first by primary key: the drain inserts in arrival order and the key is a b-tree,
    # whereas created_at has only a BRIN index (cheap on millions of rows, but it cannot order).
    ordering = ["-id"]
    actions = None
    exclude = ["request_id"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in UsageRecord._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(usage_search(term)), False

    @admin.display(description="token")
    def token_column(self, obj: UsageRecord) -> str:
        return token_link(obj.token_id, obj.token_prefix)


# --- anomalies --------------------------------------------------------------------------------


@admin.register(Anomaly)
class AnomalyAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = [
        "last_seen",
        "rule",
        "severity",
        "state",
        "token_column",
        "organization",
        "subject",
        "first_seen",
    ]
    list_display_links = ["last_seen", "rule"]
    list_select_related = ["organization", "token"]
    list_filter = [
        "state",
        "severity",
        "rule",
        "organization",
        pinned_filter("token", PersonalAccessToken, "token"),
    ]
    search_fields = ["token__display_prefix", "subject"]
    search_help_text = "A token prefix (qgp_AbC1) or a subject (an IP address, a user agent)."
    ordering = ["-last_seen", "-id"]
    sortable_by = ["last_seen", "severity"]
    actions = ["acknowledge", "resolve", "revoke_token"]
    fields = [
        "rule",
        "severity",
        "state",
        "state_changed_at",
        "token",
        "organization",
        "subject",
        "window",
        "first_seen",
        "last_seen",
        "pretty_evidence",
    ]
    readonly_fields = fields

    # Findings are made by detection and never deleted; their state changes only through the
    # actions below (telemetry.services), so the form itself is display-only.
    def has_manage_permission(self, request, obj=None):
        return request.user.has_perm("telemetry.change_anomaly")

    def has_revoke_permission(self, request, obj=None):
        return may_revoke(request)

    @admin.action(
        description="Acknowledge…",
        description_plural="Acknowledge selected anomalies…",
        permissions=["manage"],
        location=BOTH_LOCATIONS,
    )
    def acknowledge(self, request, queryset):
        return self._change_state(
            request,
            queryset.filter(state=Anomaly.State.OPEN),
            telemetry_services.acknowledge_anomaly,
            verb="Acknowledge",
        )

    @admin.action(
        description="Resolve…",
        description_plural="Resolve selected anomalies…",
        permissions=["manage"],
        location=BOTH_LOCATIONS,
    )
    def resolve(self, request, queryset):
        return self._change_state(
            request,
            queryset.exclude(state=Anomaly.State.RESOLVED),
            telemetry_services.resolve_anomaly,
            verb="Resolve",
        )

    @admin.action(
        description="Revoke its token…",
        description_plural="Revoke the tokens of selected anomalies…",
        permissions=["revoke"],
        location=BOTH_LOCATIONS,
    )
    def revoke_token(self, request, queryset):
        tokens = PersonalAccessToken.objects.filter(
            pk__in=queryset.filter(token__isnull=False).values("token_id")
        )
        return revoke_tokens(self, request, tokens)

    def _change_state(
        self,
        request,
        findings: QuerySet[Anomaly],
        service: Callable[..., Anomaly],
        *,
        verb: str,
    ) -> TemplateResponse | None:
        findings = findings.order_by("pk")
        total = findings[: MAX_FINDINGS_AT_ONCE + 1].count()
        if total == 0:
            self.message_user(request, f"Nothing to {verb.lower()}.", messages.INFO)
            return None
        if total > MAX_FINDINGS_AT_ONCE:
            self.message_user(
                request,
                f"More than {MAX_FINDINGS_AT_ONCE} anomalies selected: filter the list first.",
                messages.ERROR,
            )
            return None
        note = ask_reason(
            self,
            request,
            objects=list(findings[:_LISTED]),
            total=total,
            title=f"{verb} anomalies",
            button=f"{verb} {total}",
            label="Note",
            help_text="Optional. Kept in the audit log.",
            required=False,
        )
        if not isinstance(note, str):
            return note
        actor = Actor.from_request(request, ops=True)
        done = 0
        for anomaly in findings.select_related("token", "organization"):
            try:
                service(anomaly, actor=actor, note=note)
            except telemetry_services.AnomalyStateError as error:
                self.message_user(request, f"{anomaly}: {error}", messages.WARNING)
            else:
                done += 1
        past = {"Acknowledge": "Acknowledged", "Resolve": "Resolved"}[verb]
        self.message_user(request, f"{past} {done}.", messages.SUCCESS)
        return None

    @admin.display(description="token", ordering="token__display_prefix")
    def token_column(self, obj: Anomaly) -> str:
        return token_link(obj.token_id, obj.token.display_prefix if obj.token else "")

    @admin.display(description="evidence")
    def pretty_evidence(self, obj: Anomaly) -> str:
        return pretty_json(obj.evidence)
