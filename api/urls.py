from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView

from api import problems
from api.converters import IdConverter, SerialConverter
from api.views import (
    alarms,
    audit,
    changelog,
    credentials,
    fleet,
    maintenance,
    pages,
    sandbox,
    secret_scanning,
    telemetry,
    token,
)

register_converter(SerialConverter, "serial")
register_converter(IdConverter, "id")

app_name = "api"

v1 = [
    path("terminals", fleet.TerminalList.as_view(), name="terminals"),
    path("spreaders", fleet.SpreaderList.as_view(), name="spreaders"),
    path("spreaders/<serial:serial>", fleet.SpreaderDetail.as_view(), name="spreader"),
    path(
        "spreaders/<serial:serial>/telemetry",
        telemetry.SpreaderTelemetry.as_view(),
        name="spreader-telemetry",
    ),
    path(
        "spreaders/<serial:serial>/maintenance",
        maintenance.SpreaderMaintenanceCreate.as_view(),
        name="spreader-maintenance",
    ),
    path("alarms", alarms.AlarmList.as_view(), name="alarms"),
    path(
        "alarms/<id:alarm_id>/acknowledge",
        alarms.AlarmAcknowledge.as_view(),
        name="alarm-acknowledge",
    ),
    path("maintenance", maintenance.MaintenanceList.as_view(), name="maintenance"),
    path("audit-events", audit.AuditEventList.as_view(), name="audit-events"),
    path("sandbox/reset", sandbox.SandboxReset.as_view(), name="sandbox-reset"),
    path("token", token.TokenDetail.as_view(), name="token"),
    path("token/rotate", token.TokenRotate.as_view(), name="token-rotate"),
    path("credentials/revoke", credentials.LeakReport.as_view(), name="credentials-revoke"),
    path(
        "secret-scanning/github",
        secret_scanning.GitHubSecretScanning.as_view(),
        name="secret-scanning-github",
    ),
    path("changelog", changelog.Changelog.as_view(), name="changelog-list"),
]

urlpatterns = [
    path("v1/", include(v1)),
    # Any other path under /api/v1/ is a 404 problem, not Django's HTML page.
    re_path(r"^v1/", problems.not_found),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", pages.SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", pages.RedocView.as_view(url_name="api:schema"), name="redoc"),
    path("getting-started/", pages.getting_started, name="getting-started"),
    path("changelog/", pages.changelog, name="changelog"),
    path("webhooks/", pages.webhooks_guide, name="webhooks"),
]
