"""POST /secret-scanning/github: GitHub's secret-scanning partner alerts.

GitHub scans public repositories, gists, issues and packages for strings that match our token
pattern and POSTs the matches here, signed. A delivery is believed only once its signature
checks out against one of GitHub's public keys (api.github_keys: a configured file and the
refreshed rows, never fetched while answering). Then telemetry.leaks records every alert,
revokes every live token of ours through the leak report's own service and tells the owners
and admins; GitHub gets its feedback format back: a label per alert, with the token's SHA-256,
never the token.

A refused delivery (limited address, no or bad signature, unknown key, malformed body) changes
nothing: it is answered with a problem, logged, and counted on /metrics
(`quaygate_secret_scanning_refused_total{reason}`), no more.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiParameter
from prometheus_client import Counter
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from api import github_keys
from api.exceptions import RequestTooLarge, SignatureNotVerified, TooManyRequests
from api.parsers import decode_json
from api.schema import api_operation, problem
from api.serializers import GitHubAlertInput, GitHubAlertVerdictOut
from api.views.base import ApiView, address_limit
from core.net import client_ip
from telemetry import leaks

logger = logging.getLogger(__name__)

MAX_ALERTS = 1000
ALERTS_PER_IP = "60/m"
REFUSAL_REASONS = (
    "rate_limited",
    "too_large",
    "missing",
    "unknown_key",
    "malformed",
    "bad_signature",
    "malformed_body",
)
REFUSED = Counter(
    "quaygate_secret_scanning_refused",
    "GitHub secret-scanning deliveries refused before anything was recorded, by reason.",
    ["reason"],
)
for _reason in REFUSAL_REASONS:  # every series from the start, at 0
    REFUSED.labels(_reason)

DESCRIPTION = f"""GitHub's [secret scanning partner program](/api/getting-started/#secret-scanning)
sends the Quaygate tokens (`qgp_…`, `qgs_…`) it finds in public code, issues, gists and
packages here. Not for people: use `POST /api/v1/credentials/revoke` to report a token.

**Signature.** Every delivery is signed: `{github_keys.KEY_ID_HEADER}` names one of GitHub's
secret-scanning keys and `{github_keys.SIGNATURE_HEADER}` is a base64 ECDSA signature (NIST
P-256, SHA-256, DER) over the raw body. The keys come from the deployment's configuration
(`SECRET_SCANNING_GITHUB_KEYS_FILE`, refreshed from `SECRET_SCANNING_GITHUB_KEYS_URL` hourly),
never from GitHub while the request waits. A missing or wrong signature or an unknown key is a
401 `invalid_signature`; nothing is recorded.

**Body.** A JSON array of at most {MAX_ALERTS} alerts, `{{"token", "type", "url", "source"}}`
(other keys are ignored). Each live token of ours is revoked at once, with the reason
"leaked: found by GitHub secret scanning at <url>"; its owner is emailed, the organisation's
admins get a finding, and the audit log says where it was found. Already-dead and unknown
strings are recorded as seen. The same alert again changes nothing.

**Answer.** GitHub's feedback format, one entry per alert in order: the token's SHA-256
(`token_hash`; the token itself is never sent back), the alert's `type` and the `label`.
Deliveries are limited per address ({ALERTS_PER_IP} by default)."""


def alerts_rate() -> str:
    return getattr(settings, "QUAYGATE", {}).get("API_SECRET_SCANNING_PER_IP", ALERTS_PER_IP)


def count_refusal(reason: str) -> None:
    """One more refused delivery: the Prometheus counter (on /metrics) and a log line."""
    logger.warning("GitHub secret-scanning delivery refused: %s", reason)
    REFUSED.labels(reason).inc()


SIGNATURE_PARAMETERS = [
    OpenApiParameter(
        github_keys.KEY_ID_HEADER,
        {"type": "string", "minLength": 1, "maxLength": github_keys.MAX_KEY_ID_CHARS},
        OpenApiParameter.HEADER,
        required=True,
        description="Which of GitHub's secret-scanning public keys signed the body.",
    ),
    OpenApiParameter(
        github_keys.SIGNATURE_HEADER,
        {"type": "string", "minLength": 1, "maxLength": github_keys.MAX_SIGNATURE_CHARS},
        OpenApiParameter.HEADER,
        required=True,
        description="Base64 ECDSA (P-256, SHA-256) signature of the raw body by that key.",
    ),
]


class GitHubSecretScanning(ApiView):
    authentication_classes = []
    permission_classes = []
    serializer_class = GitHubAlertInput  # for OPTIONS; the handler validates the list itself

    def perform_authentication(self, request: Request) -> None:
        """No token: the signature is the authentication, checked in the handler."""

    @api_operation(
        summary="GitHub secret-scanning alerts",
        description=DESCRIPTION,
        tags=["Security"],
        operation_id="secret_scanning_github",
        scope=None,
        authenticated=False,
        request=GitHubAlertInput(many=True),
        responses={
            200: GitHubAlertVerdictOut(many=True),
            **dict([problem(401, "Not signed by a known GitHub key (`invalid_signature`).")]),
        },
        errors=[400, 413],
        parameters=SIGNATURE_PARAMETERS,
    )
    def post(self, request: Request) -> Response:
        usage = address_limit(
            request, group="api:secret-scanning", rate=alerts_rate(), increment=True
        )
        if usage is not None and usage["should_limit"]:
            count_refusal("rate_limited")
            raise TooManyRequests(
                wait=max(1, usage["time_left"]), detail="Too many deliveries from this address."
            )
        body = _signed_body(request)
        alerts = _alerts(body)
        django_request = request._request
        verdicts = leaks.record_scanner_alerts(
            alerts,
            scanner=leaks.GITHUB,
            ip=client_ip(django_request),
            user_agent=django_request.META.get("HTTP_USER_AGENT", ""),
        )
        rows = [
            {
                "token_hash": verdict.token_sha256,
                "token_type": verdict.token_type,
                "label": "true_positive" if verdict.true_positive else "false_positive",
            }
            for verdict in verdicts
        ]
        return Response(GitHubAlertVerdictOut(rows, many=True).data)


def _signed_body(request: Request) -> bytes:
    """The raw body, once its signature is checked: the bytes GitHub signed, not a re-encoding."""
    django_request = request._request
    try:
        body = django_request.body  # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (413 past it)
    except RequestDataTooBig:
        count_refusal("too_large")
        raise RequestTooLarge() from None
    try:
        github_keys.verify_signature(
            body,
            key_identifier=django_request.headers.get(github_keys.KEY_ID_HEADER),
            signature=django_request.headers.get(github_keys.SIGNATURE_HEADER),
        )
    except github_keys.SignatureRejected as rejected:
        count_refusal(rejected.reason)
        raise SignatureNotVerified(str(rejected)) from None
    return body


def _alerts(body: bytes) -> list[leaks.ScannerAlert]:
    try:
        data: Any = decode_json(body)
        serializer = GitHubAlertInput(many=True, max_length=MAX_ALERTS, data=data)
        serializer.is_valid(raise_exception=True)
    except (exceptions.ParseError, exceptions.ValidationError):
        count_refusal("malformed_body")
        raise
    return [
        leaks.ScannerAlert(
            token=item["token"], token_type=item["type"], url=item["url"], source=item["source"]
        )
        for item in serializer.validated_data
    ]
