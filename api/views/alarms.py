"""Alarms (scopes alarms:read, alarms:write)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from api.converters import IdConverter
from api.schema import api_operation
from api.serializers import AlarmOut, AlarmQuery
from api.views.base import ApiView, ListApiView, idempotent
from fleet import selectors, services
from tokens.scopes import Scope


class AlarmList(ListApiView):
    serves_fleet = True
    required_scope = Scope.ALARMS_READ
    serializer_class = AlarmOut
    query_serializer_class = AlarmQuery
    ordering = ("-raised_at", "-id")

    def filtered_queryset(self, filters: dict[str, Any]):
        return selectors.filter_alarms(selectors.alarms_visible_to(self.token), **filters)

    @api_operation(
        summary="List alarms",
        description="Alarms of the spreaders this token can see, newest first. Filter by "
        "spreader, state (active: not cleared), severity, acknowledgement and the time raised.",
        tags=["Alarms"],
        operation_id="alarms_list",
        scope=Scope.ALARMS_READ,
        parameters=[AlarmQuery],
        responses={200: AlarmOut(many=True)},
        errors=[400],
        paginated=True,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class AlarmAcknowledge(ApiView):
    serves_fleet = True
    required_scope = Scope.ALARMS_WRITE
    serializer_class = AlarmOut

    @api_operation(
        summary="Acknowledge an alarm",
        description="Marks the alarm acknowledged by this token. Idempotent: acknowledging an "
        "acknowledged alarm changes nothing and answers 200 with the first acknowledgement. "
        "No body is needed.",
        tags=["Alarms"],
        operation_id="alarms_acknowledge",
        scope=Scope.ALARMS_WRITE,
        parameters=[
            OpenApiParameter(
                "alarm_id",
                {"type": "integer", "minimum": 1, "maximum": IdConverter.MAX},
                OpenApiParameter.PATH,
                description="The alarm's id.",
            )
        ],
        request=None,
        responses={200: AlarmOut},
        errors=[404],
        idempotent=True,
    )
    @idempotent()
    def post(self, request: Request, alarm_id: int) -> Response:
        alarm = selectors.alarm_for(self.token, alarm_id)
        alarm = services.acknowledge_alarm(alarm, by_token_id=self.token.id)
        return Response(AlarmOut(alarm).data)
