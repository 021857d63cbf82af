"""Ops console: organisations' webhook endpoints and their deliveries. Read-only (customers
manage their endpoints in the portal), with a Disable action for an endpoint that misbehaves;
the signing secrets are never shown."""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin_utils import LargeTableAdmin, ReadOnlyAdminMixin
from tokens.actors import Actor
from webhooks.disabling import disable_endpoint
from webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["url", "organization", "created_at", "disabled_at", "failing_since"]
    list_filter = [("disabled_at", admin.EmptyFieldListFilter)]
    search_fields = ["organization__slug", "url"]
    list_select_related = ["organization"]
    fields = [
        "organization",
        "url",
        "description",
        "event_types",
        "secret_hint",
        "created_by",
        "created_at",
        "updated_at",
        "disabled_at",
        "disabled_reason",
        "failing_since",
        "last_success_at",
    ]
    readonly_fields = fields
    actions = ["disable"]

    def has_disable_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.action(description="Disable the selected endpoints", permissions=["disable"])
    def disable(self, request, queryset) -> None:
        actor = Actor.from_request(request, ops=True)
        done = sum(
            disable_endpoint(
                endpoint,
                reason=f"Disabled by Quaygate ops ({actor.label})",
                actor=actor,
                notify=True,
            )
            for endpoint in queryset.select_related("organization")
        )
        messages.success(request, f"Disabled {done} endpoint(s); their admins were emailed.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = ["created_at", "endpoint", "state", "attempts", "response_status", "last_error"]
    list_filter = ["state"]
    list_select_related = ["endpoint", "event"]
    ordering = ["-id"]
    sortable_by = ["created_at"]
    fields = [
        "uuid",
        "event",
        "endpoint",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "retry_until",
        "lease_expires_at",
        "last_attempt_at",
        "response_status",
        "response_ms",
        "response_body",
        "last_error",
        "delivered_at",
    ]
    readonly_fields = fields
