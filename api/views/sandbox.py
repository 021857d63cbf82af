"""The sandbox fleet's own operation: put the fixtures back (sandbox tokens only)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from api.exceptions import SandboxOnly
from api.schema import api_operation
from api.serializers import SandboxResetOut
from api.views.base import ApiView
from core.net import client_ip
from tokens import services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken
from tokens.scopes import Scope


class SandboxReset(ApiView):
    required_scope = Scope.MAINTENANCE_WRITE
    serializer_class = SandboxResetOut

    @api_operation(
        summary="Reset the sandbox fleet",
        description="Deletes every sandbox row of your organisation — terminals, spreaders, "
        "readings, alarms (and their acknowledgements) and maintenance records, including "
        "what your tests wrote — and generates the fixtures again: the same rows as on first "
        "use, stamped against midnight UTC of today. Production data is never touched. "
        "Sandbox tokens (`qgs_`) only: a production token gets 403 `sandbox_only`. The reset "
        "is recorded in the organisation's audit log.",
        tags=["Sandbox"],
        operation_id="sandbox_reset",
        scope=Scope.MAINTENANCE_WRITE,
        request=None,
        responses={200: SandboxResetOut},
    )
    def post(self, request: Request) -> Response:
        if self.token.kind != "sandbox":
            raise SandboxOnly()
        token = PersonalAccessToken.objects.select_related("organization").get(pk=self.token.id)
        actor = Actor.for_token(
            token,
            ip=client_ip(request._request),
            user_agent=request._request.META.get("HTTP_USER_AGENT", ""),
        )
        summary = services.reset_sandbox(token.organization, actor=actor, token=token)
        return Response(SandboxResetOut(summary).data)
