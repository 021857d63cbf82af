"""The organisation's audit log (scope audit:read, organisation admins' tokens only)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from api.audit_serializers import AuditEventOut, AuditEventQuery
from api.schema import api_operation
from api.views.base import ListApiView
from tokens import selectors
from tokens.scopes import Scope


class AdminAuthorityRequired(exceptions.PermissionDenied):
    default_code = "admin_token_required"
    default_detail = (
        "The audit log is for organisation admins: this token's owner is not an admin of its "
        "organisation (any more). An admin's token with the audit:read scope can read it."
    )


class AuditEventList(ListApiView):
    required_scope = Scope.AUDIT_READ
    serializer_class = AuditEventOut
    query_serializer_class = AuditEventQuery
    # Chain order, newest first: within one organisation seq is unique, so the order is total
    # and a page's events link to each other (each prev_hash is the next row's hash).
    ordering = ("-chain_seq", "-id")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, then the scope
        if not selectors.speaks_for_an_admin(self.token):
            raise AdminAuthorityRequired()

    def filtered_queryset(self, filters: dict[str, Any]):
        events = selectors.audit_events_for_token(self.token)
        if filters.get("action"):
            events = events.filter(action__in=filters["action"])
        if filters.get("actor"):
            events = events.filter(actor_label__iexact=filters["actor"])
        if filters.get("token_prefix"):
            events = events.filter(token_prefix=filters["token_prefix"])
        if filters.get("since"):
            events = events.filter(created_at__gte=filters["since"])
        if filters.get("until"):
            events = events.filter(created_at__lt=filters["until"])
        return events

    @api_operation(
        summary="List audit events",
        description="Your organisation's audit log, newest first: every token created, "
        "regenerated, rotated, revoked or expired, sign-ins, policy and membership changes. "
        "Filter by action, actor, token prefix and time. Each event carries its place in the "
        "organisation's hash chain (`seq`, `prev_hash`, `hash`), so you can verify that no "
        "event was changed, removed or inserted (see the README's audit chain section). "
        "Only tokens of organisation admins may hold `audit:read`; a token whose owner is no "
        "longer an admin gets 403 `admin_token_required`.",
        tags=["Audit log"],
        operation_id="audit_events_list",
        scope=Scope.AUDIT_READ,
        parameters=[AuditEventQuery],
        responses={200: AuditEventOut(many=True)},
        errors=[400],
        paginated=True,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)
