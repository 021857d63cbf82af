"""Ops console: the fleet data the partner API serves, to look at when a partner reports a
problem. Read-only: it comes from the monitoring system and from partners (alarm
acknowledgements, maintenance logs through the API), and admin has no audit trail for edits.

Telemetry readings are not listed: billions of rows, read through the API and its roll-ups.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin_utils import LargeTableAdmin, ReadOnlyAdminMixin
from fleet.models import Alarm, MaintenanceRecord, Spreader, Terminal


@admin.register(Terminal)
class TerminalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "organization", "country", "time_zone"]
    list_select_related = ["organization"]
    list_filter = ["organization", "country"]
    search_fields = ["code", "name"]
    show_facets = admin.ShowFacets.NEVER


@admin.register(Spreader)
class SpreaderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["serial_number", "model", "terminal", "status", "commissioned_at"]
    list_select_related = ["terminal"]
    list_filter = ["status", "terminal__organization"]
    search_fields = ["serial_number", "model"]
    show_facets = admin.ShowFacets.NEVER


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = ["raised_at", "code", "severity", "spreader", "cleared_at", "acknowledged_at"]
    list_select_related = ["spreader"]
    list_filter = ["severity", "raised_at"]
    search_fields = ["=code", "=spreader__serial_number"]
    ordering = ["-raised_at", "-id"]  # the (-raised_at, -id) index
    sortable_by = ["raised_at"]
    actions = None


@admin.register(MaintenanceRecord)
class MaintenanceRecordAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = ["performed_at", "kind", "spreader", "operating_hours", "created_at"]
    list_select_related = ["spreader"]
    list_filter = ["kind", "performed_at"]
    search_fields = ["=spreader__serial_number"]
    ordering = ["-id"]
    actions = None
