"""Ops console: the audit chains' heads and the breaks the daily check found (read-only)."""

from __future__ import annotations

from django.contrib import admin

from core.admin_utils import ReadOnlyAdminMixin
from tokens.models import AuditChainBreak, AuditChainHead


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["key", "organization", "seq", "hash"]
    list_select_related = ["organization"]
    search_fields = ["key", "organization__slug"]
    fields = ["key", "organization", "seq", "hash"]
    readonly_fields = fields
    actions = None


@admin.register(AuditChainBreak)
class AuditChainBreakAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What `verify_audit_chain` / the daily check found: the chain and its first bad event."""

    list_display = ["found_at", "chain", "seq", "event_id", "problem", "events_checked"]
    list_select_related = ["chain"]
    fields = ["found_at", "chain", "seq", "event_id", "problem", "events_checked"]
    readonly_fields = fields
    actions = None
