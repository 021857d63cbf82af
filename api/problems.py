"""Every API error as an RFC 9457 problem document (`application/problem+json`).

One exception handler for DRF (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]) and Django-level
handlers for what never reaches a DRF view (an unknown path, an error in a middleware). A problem
always has `type`, `title`, `status`, `detail`, a stable machine `code` and the `request_id`;
a validation problem lists every field in `errors`. Nothing else leaves the server: no stack
trace, no SQL, no secret.

DRF's own behaviour is kept: `exc.auth_header` becomes WWW-Authenticate (RFC 6750), `exc.wait`
becomes Retry-After.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.views import set_rollback

from api.exceptions import RequestTooLarge
from core import requestid
from fleet.exceptions import FleetInputError
from tokens.exceptions import TokenError

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
API_PATH_PREFIX = "/api/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    title: str
    when: str  # for the error table on the getting-started page


# The stable codes a client can branch on. Titles don't change between occurrences (RFC 9457
# §3.1.3); `detail` says what happened this time.
PROBLEM_TYPES: dict[str, ProblemType] = {
    "validation_error": ProblemType(
        400, "Invalid request", "A parameter or body field is wrong; `errors` lists each one."
    ),
    "parse_error": ProblemType(400, "Malformed request body", "The body is not valid JSON."),
    "token_in_url": ProblemType(
        400,
        "Token sent in the URL",
        "A token arrived in the query string. Send it in the Authorization header, and "
        "regenerate it: URLs end up in logs.",
    ),
    "token_rejected": ProblemType(
        400, "Token change refused", "A token service refused the change; `errors` says why."
    ),
    "invalid_signature": ProblemType(
        401,
        "Invalid signature",
        "A secret-scanning alert is not signed by a key of the scanner we know "
        "(`Github-Public-Key-Identifier`, `Github-Public-Key-Signature`).",
    ),
    "not_authenticated": ProblemType(
        401, "Authentication required", "No `Authorization: Bearer …` header was sent."
    ),
    "invalid_token": ProblemType(
        401,
        "Invalid token",
        "The token is mistyped, unknown, expired, revoked or not allowed from this address.",
    ),
    "insufficient_scope": ProblemType(
        403, "Insufficient scope", "The token lacks the scope the operation needs."
    ),
    "permission_denied": ProblemType(403, "Permission denied", "The operation is not allowed."),
    "api_access_not_enabled": ProblemType(
        403,
        "API access not enabled",
        "The organisation's API access does not cover this token: a production token (qgp_) "
        "before production access is granted, or any token while the API is off. An "
        "organisation admin requests production access in the portal (Organisation → API "
        "access); until then use a sandbox token (qgs_).",
    ),
    "admin_token_required": ProblemType(
        403,
        "Organisation admin's token required",
        "The audit log (`audit:read`) is for organisation admins' tokens; this token's owner "
        "is not an admin of its organisation (any more).",
    ),
    "sandbox_only": ProblemType(
        403,
        "Sandbox tokens only",
        "The operation works on the sandbox fleet only (`POST /sandbox/reset`); call it with a "
        "sandbox token (`qgs_`).",
    ),
    "not_found": ProblemType(
        404,
        "Not found",
        "No such endpoint, or no such object visible to this token (another organisation's "
        "objects and unselected terminals are not found either).",
    ),
    "method_not_allowed": ProblemType(
        405, "Method not allowed", "The endpoint exists but not for this HTTP method."
    ),
    "not_acceptable": ProblemType(
        406, "Not acceptable", "The Accept header asks for something other than JSON."
    ),
    "token_not_active": ProblemType(
        409, "Token not active", "The token is revoked or expired, so it cannot be rotated."
    ),
    "idempotency_key_in_use": ProblemType(
        409,
        "Idempotency-Key in use",
        "A request with the same `Idempotency-Key` is still running; retry after "
        "`Retry-After` seconds to get its response.",
    ),
    "idempotency_key_used": ProblemType(
        409,
        "Idempotency-Key already used",
        "The key already rotated this token. The new secret was shown once and is not stored, "
        "so it is not replayed: rotate again with a new key, or regenerate in the portal.",
    ),
    "request_too_large": ProblemType(413, "Request body too large", "The body is too large."),
    "unsupported_media_type": ProblemType(
        415, "Unsupported media type", "Send bodies as `Content-Type: application/json`."
    ),
    "idempotency_key_reused": ProblemType(
        422,
        "Idempotency-Key reused",
        "The `Idempotency-Key` was already used for a different request (method, path or "
        "body). Use a new key for each new request.",
    ),
    "rate_limited": ProblemType(
        429,
        "Rate limit exceeded",
        "The token used up its hourly requests; wait `Retry-After` seconds.",
    ),
    "too_many_requests": ProblemType(
        429,
        "Too many requests from this address",
        "Too many failed authentications, leak reports or secret-scanning alerts from one "
        "address; wait `Retry-After` seconds.",
    ),
    "server_error": ProblemType(
        500, "Internal server error", "Our fault. It is logged; try again later."
    ),
    "service_unavailable": ProblemType(
        503,
        "Service unavailable",
        "A backing service (the database) is unreachable or overloaded; retry after "
        "`Retry-After` seconds.",
    ),
}

# How long a client should wait when the database is unreachable: long enough not to pile on
# while it recovers, short enough that a failover is barely noticed.
UNAVAILABLE_RETRY_AFTER_SECONDS = 30

# DRF's default codes -> ours, where they differ.
_DRF_CODES = {
    "invalid": "validation_error",
    "authentication_failed": "invalid_token",
    "throttled": "rate_limited",
}


def type_uri(code: str) -> str:
    """The problem's `type`: where a person reads about it (the errors table of our guide)."""
    return f"/api/getting-started/#problem-{code}"


def problem_body(
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    known = PROBLEM_TYPES.get(code)
    body: dict[str, Any] = {
        "type": type_uri(code),
        "title": title or (known.title if known else "Request failed"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    # The same id as the X-Request-Id header: what a partner quotes to support.
    request_id = requestid.current()
    if request_id:
        body["request_id"] = request_id
    return body


class ProblemResponse(HttpResponse):
    """A plain Django response: it renders whatever the Accept header said (406 included)."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        detail: str,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        instance: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.problem = problem_body(
            status=status, code=code, detail=detail, title=title, errors=errors, instance=instance
        )
        content = json.dumps(self.problem, ensure_ascii=False, separators=(",", ":"))
        super().__init__(
            content.encode(),
            status=status,
            content_type=CONTENT_TYPE,
            headers=dict(headers or {}),
        )


# --- validation errors --------------------------------------------------------------------------


def flatten_errors(detail: Any, prefix: str = "") -> Iterator[dict[str, str]]:
    """DRF's nested error structure as a flat list: {"field": "credentials.3", "code", "detail"}."""
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            yield from flatten_errors(
                value, f"{prefix}.{name}" if prefix and name else prefix or name
            )
    elif isinstance(detail, list):
        scalars = all(not isinstance(item, (list, Mapping)) for item in detail)
        for index, item in enumerate(detail):
            if scalars:
                yield from flatten_errors(item, prefix)
            elif item:  # a list of per-item errors: empty entries are the valid items
                yield from flatten_errors(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        entry = {"detail": str(detail), "code": getattr(detail, "code", None) or "invalid"}
        if prefix:
            entry = {"field": prefix, **entry}
        yield entry


def _validation_detail(errors: list[dict[str, str]]) -> str:
    if len(errors) == 1:
        only = errors[0]
        return f"{only['field']}: {only['detail']}" if "field" in only else only["detail"]
    fields = sorted({e["field"] for e in errors if "field" in e})
    if fields:
        return f"The request has {len(errors)} errors, in: {', '.join(fields)}."
    return f"The request has {len(errors)} errors."


# --- the DRF exception handler -----------------------------------------------------------------


def _headers_of(exc: exceptions.APIException) -> dict[str, str]:
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = f"{int(exc.wait)}"
    return headers


def _code_of(exc: exceptions.APIException) -> str:
    detail = exc.detail
    code = getattr(detail, "code", None) if not isinstance(detail, (list, dict)) else None
    code = code or exc.default_code
    return _DRF_CODES.get(code, code)


def problem_for_api_exception(exc: exceptions.APIException) -> ProblemResponse:
    headers = _headers_of(exc)
    if isinstance(exc, exceptions.ValidationError):
        errors = list(flatten_errors(exc.detail))
        return ProblemResponse(
            status=exc.status_code,
            code="validation_error",
            detail=_validation_detail(errors),
            errors=errors,
            headers=headers,
        )
    return ProblemResponse(
        status=exc.status_code, code=_code_of(exc), detail=str(exc.detail), headers=headers
    )


def problem_for_token_error(exc: TokenError) -> ProblemResponse:
    """A token service's refusal. Its `code` goes into `errors`, next to the field it is about."""
    error = {"code": exc.code, "detail": exc.message}
    if exc.field:
        error = {"field": exc.field, **error}
    status = getattr(exc, "status", 400)
    code = {409: "token_not_active", 403: "permission_denied"}.get(status, "token_rejected")
    return ProblemResponse(status=status, code=code, detail=exc.message, errors=[error])


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER: every exception raised in an API view becomes a problem."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc.args[0]) if exc.args else "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("The request was refused as malformed.")

    if isinstance(exc, (exceptions.APIException, TokenError, FleetInputError)):
        set_rollback()
        if isinstance(exc, TokenError):
            return problem_for_token_error(exc)
        if isinstance(exc, FleetInputError):
            return ProblemResponse(
                status=400,
                code="validation_error",
                detail=exc.message,
                errors=[{"field": exc.field, "code": exc.code, "detail": exc.message}],
            )
        return problem_for_api_exception(exc)

    request = context.get("request")
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down, failing over or timing out: not our bug, and worth a retry.
        logger.error(
            "Database unavailable in %s %s: %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            type(exc).__name__,
        )
        set_rollback()
        return ProblemResponse(
            status=503,
            code="service_unavailable",
            detail="The service is briefly unavailable. Please retry shortly.",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )

    # Anything else is our bug: log it whole, tell the client nothing about it.
    logger.error(
        "Unhandled error in %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        exc_info=exc,
    )
    set_rollback()
    return server_error_problem()


def server_error_problem() -> ProblemResponse:
    return ProblemResponse(
        status=500,
        code="server_error",
        detail="Something went wrong on our side. It has been logged; please try again later.",
    )


# --- Django-level handlers (root URLconf: handler400/404/500) ----------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATH_PREFIX)


@csrf_exempt  # an API path: no cookies, no CSRF; a POST to nowhere is a 404, not a 403
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """A path under /api/v1/ that names no endpoint (also the catch-all route of api.urls)."""
    detail = "There is no endpoint at this path."
    if request.path_info.endswith("/") and request.path_info.startswith("/api/v1/"):
        detail += " Paths under /api/v1/ have no trailing slash."
    return ProblemResponse(status=404, code="not_found", detail=detail)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return ProblemResponse(
                status=413, code="request_too_large", detail=RequestTooLarge.default_detail
            )
        return ProblemResponse(
            status=400, code="parse_error", detail="The request was refused as malformed."
        )
    return defaults.bad_request(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return server_error_problem()
    return defaults.server_error(request)
