"""A spreader's telemetry (scope telemetry:read)."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import api_operation
from api.serializers import TelemetryBucketSeries, TelemetryQuery, TelemetryRawSeries
from api.views.base import ApiView
from api.views.fleet import SERIAL
from fleet import readings, selectors
from tokens.scopes import Scope


class SpreaderTelemetry(ApiView):
    serves_fleet = True
    required_scope = Scope.TELEMETRY_READ

    @api_operation(
        summary="Get a spreader's telemetry",
        description=(
            "Readings of one spreader in the window [`since`, `until`).\n\n"
            "- `resolution=raw`: every reading, oldest first; the window may span at most "
            f"{readings.MAX_WINDOW[readings.Resolution.RAW].days} days and hold at most "
            f"{readings.MAX_POINTS} readings.\n"
            "- `resolution=hour` (default) or `day`: one point per hour or day that has "
            "readings, with the count and the minimum, average and maximum of each metric, "
            "computed by the database. Hourly windows may span "
            f"{readings.MAX_WINDOW[readings.Resolution.HOUR].days} days, daily ones "
            f"{readings.MAX_WINDOW[readings.Resolution.DAY].days} days.\n\n"
            "Past a bound the answer is 400 (`window_too_large` or `too_many_points` in "
            "`errors`): narrow the window or choose a coarser resolution. Times without an "
            "offset are read as UTC.\n\n"
            "Buckets are in UTC unless `tz` names a zone: `terminal` for the spreader's "
            "terminal's, or an IANA name (`Europe/Amsterdam`; an unknown name is a 400). A day "
            "then starts at local midnight, so the days the clocks change last 23 or 25 hours; "
            "an hour is always a real hour starting on a whole local hour, so the hour the "
            "clocks repeat in autumn is two buckets (with different UTC offsets). The answer "
            "says its zone in `time_zone`, and every time in it carries that zone's offset."
        ),
        tags=["Telemetry"],
        operation_id="spreaders_telemetry",
        scope=Scope.TELEMETRY_READ,
        parameters=[SERIAL, TelemetryQuery],
        responses={
            200: PolymorphicProxySerializer(
                component_name="TelemetrySeries",
                serializers=[TelemetryRawSeries, TelemetryBucketSeries],
                resource_type_field_name=None,
            )
        },
        errors=[400, 404],
    )
    def get(self, request: Request, serial: str) -> Response:
        query = self.validated_query(TelemetryQuery)
        spreader = selectors.spreader_for(self.token, serial)
        metrics = tuple(query.get("metrics") or readings.METRICS)
        zone = readings.zone_for(query["tz"], terminal_zone=spreader.terminal.time_zone)
        span = readings.window(
            since=query.get("since"),
            until=query.get("until"),
            resolution=query["resolution"],
            metrics=tuple(m for m in readings.METRICS if m in metrics),
            zone=zone,
        )
        return Response(
            {
                "spreader": spreader.serial_number,
                "resolution": span.resolution.value,
                "time_zone": readings.zone_name(zone),
                "since": span.since.astimezone(zone),
                "until": span.until.astimezone(zone),
                "metrics": list(span.metrics),
                "points": readings.series(spreader.id, span),
            }
        )
