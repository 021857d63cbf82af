"""POST /credentials/revoke: anyone who finds a token in public reports it here.

No authentication (the reporter has no token of ours). The answer is always the same 202,
whatever the report held — real tokens, rotated-out secrets or garbage — so the endpoint can't
be used to test whether a string is a live token. Limited per address, bounded in size.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.exceptions import TooManyRequests
from api.schema import api_operation
from api.serializers import LeakReportInput, LeakReportOut
from api.views.base import ApiView, address_limit
from core.net import client_ip
from tokens import services

LEAK_REPORTS_PER_IP = "20/h"
ACCEPTED = (
    "Thank you. Every valid token in the report has been revoked and its owner told. "
    "For safety this answer is the same whatever the report contained."
)


def leak_report_rate() -> str:
    return getattr(settings, "QUAYGATE", {}).get("API_LEAK_REPORTS_PER_IP", LEAK_REPORTS_PER_IP)


class LeakReport(ApiView):
    authentication_classes = []
    permission_classes = []
    serializer_class = LeakReportInput

    def perform_authentication(self, request: Request) -> None:
        """Nothing to authenticate, and a reporter is not a guesser: no failure limit here."""

    @api_operation(
        summary="Report leaked tokens",
        description="Found a Quaygate token (`qgp_…`) somewhere public — a repository, a paste, "
        "a log? Send it here. Every valid token in the report is revoked at once and its "
        "owner emailed. The answer is always 202 and never says which strings were tokens. "
        f"At most 100 strings per report; reports are limited per address ({LEAK_REPORTS_PER_IP}).",
        tags=["Security"],
        operation_id="credentials_revoke",
        scope=None,
        authenticated=False,
        request=LeakReportInput,
        responses={202: LeakReportOut},
        errors=[400, 413, 415],
    )
    def post(self, request: Request) -> Response:
        usage = address_limit(
            request, group="api:leak-report", rate=leak_report_rate(), increment=True
        )
        if usage is not None and usage["should_limit"]:
            raise TooManyRequests(
                wait=max(1, usage["time_left"]), detail="Too many reports from this address."
            )
        credentials = self.validated_body(LeakReportInput)["credentials"]
        django_request = request._request
        services.report_leaked_credentials(
            credentials,
            ip=client_ip(django_request),
            user_agent=django_request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)
