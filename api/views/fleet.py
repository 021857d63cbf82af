"""Terminals and spreaders (scope fleet:read)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from api.converters import SerialConverter
from api.schema import api_operation
from api.serializers import SpreaderOut, SpreaderQuery, TerminalOut, TerminalQuery
from api.views.base import ApiView, ListApiView
from fleet import selectors
from tokens.scopes import Scope

SERIAL = OpenApiParameter(
    "serial",
    {"type": "string", "pattern": f"^{SerialConverter.regex}$"},
    OpenApiParameter.PATH,
    description="The spreader's serial number.",
)


class TerminalList(ListApiView):
    serves_fleet = True
    required_scope = Scope.FLEET_READ
    serializer_class = TerminalOut
    query_serializer_class = TerminalQuery
    ordering = ("code", "id")

    def filtered_queryset(self, filters: dict[str, Any]):
        return selectors.terminals_visible_to(self.token)

    @api_operation(
        summary="List terminals",
        description="The terminals this token can see: all of its organisation's, or the ones "
        "selected when the token was created. Ordered by code.",
        tags=["Fleet"],
        operation_id="terminals_list",
        scope=Scope.FLEET_READ,
        responses={200: TerminalOut(many=True)},
        errors=[400],
        paginated=True,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class SpreaderList(ListApiView):
    serves_fleet = True
    required_scope = Scope.FLEET_READ
    serializer_class = SpreaderOut
    query_serializer_class = SpreaderQuery

    def get_ordering(self) -> tuple[str, ...]:
        return SpreaderQuery.ORDERINGS[self.filters["ordering"]]

    def filtered_queryset(self, filters: dict[str, Any]):
        return selectors.filter_spreaders(
            selectors.spreaders_visible_to(self.token),
            terminal=filters.get("terminal"),
            status=filters.get("status"),
            model=filters.get("model"),
        )

    @api_operation(
        summary="List spreaders",
        description="The spreaders on the terminals this token can see, retired ones included. "
        "Filter by terminal code, status and model; order by serial number (default), "
        "commissioning date or model (prefix `-` for descending).",
        tags=["Fleet"],
        operation_id="spreaders_list",
        scope=Scope.FLEET_READ,
        parameters=[SpreaderQuery],
        responses={200: SpreaderOut(many=True)},
        errors=[400],
        paginated=True,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class SpreaderDetail(ApiView):
    serves_fleet = True
    required_scope = Scope.FLEET_READ
    serializer_class = SpreaderOut

    @api_operation(
        summary="Get a spreader",
        description="One spreader by serial number. A spreader of another organisation, or "
        "on a terminal this token was not given, is not found (404).",
        tags=["Fleet"],
        operation_id="spreaders_retrieve",
        scope=Scope.FLEET_READ,
        parameters=[SERIAL],
        responses={200: SpreaderOut},
        errors=[404],
    )
    def get(self, request: Request, serial: str) -> Response:
        spreader = selectors.spreader_for(self.token, serial)
        return Response(SpreaderOut(spreader).data)
