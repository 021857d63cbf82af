"""Maintenance records (scopes maintenance:read, maintenance:write)."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import api_operation
from api.serializers import MaintenanceInput, MaintenanceOut, MaintenanceQuery
from api.views.base import ApiView, ListApiView, idempotent
from api.views.fleet import SERIAL
from fleet import selectors, services
from tokens.scopes import Scope


class MaintenanceList(ListApiView):
    serves_fleet = True
    required_scope = Scope.MAINTENANCE_READ
    serializer_class = MaintenanceOut
    query_serializer_class = MaintenanceQuery
    ordering = ("-performed_at", "-id")

    def filtered_queryset(self, filters: dict[str, Any]):
        return selectors.filter_maintenance(selectors.maintenance_visible_to(self.token), **filters)

    @api_operation(
        summary="List maintenance records",
        description="Maintenance of the spreaders this token can see, most recent first. "
        "Filter by spreader, kind and when it was performed.",
        tags=["Maintenance"],
        operation_id="maintenance_list",
        scope=Scope.MAINTENANCE_READ,
        parameters=[MaintenanceQuery],
        responses={200: MaintenanceOut(many=True)},
        errors=[400],
        paginated=True,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class SpreaderMaintenanceCreate(ApiView):
    serves_fleet = True
    required_scope = Scope.MAINTENANCE_WRITE
    serializer_class = MaintenanceInput

    @api_operation(
        summary="Log maintenance",
        description="Records maintenance performed on a spreader, made by this token. "
        "`performed_at` may not be in the future or before the spreader was commissioned. "
        "Every invalid field is listed in the problem's `errors`; unknown fields are refused.",
        tags=["Maintenance"],
        operation_id="maintenance_create",
        scope=Scope.MAINTENANCE_WRITE,
        parameters=[SERIAL],
        request=MaintenanceInput,
        responses={201: MaintenanceOut},
        errors=[400, 404, 413, 415],
        idempotent=True,
    )
    @idempotent()
    def post(self, request: Request, serial: str) -> Response:
        spreader = selectors.spreader_for(self.token, serial)
        data = self.validated_body(MaintenanceInput)
        record = services.log_maintenance(spreader, by_token_id=self.token.id, **data)
        record = selectors.maintenance_visible_to(self.token).get(pk=record.pk)
        return Response(MaintenanceOut(record).data, status=status.HTTP_201_CREATED)
