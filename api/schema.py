"""OpenAPI for the partner API: the bearer scheme, the problem schema, and one decorator that
documents an operation the same way everywhere (its scope, its errors, its rate-limit headers).

Imported by ApiConfig.ready() so drf-spectacular sees the extensions before it builds a schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from api.idempotency import KEY_HEADER, KEY_PATTERN, REPLAYED_HEADER
from api.pagination import CURSOR_PARAM, DEFAULT_LIMIT, LIMIT_PARAM, MAX_CURSOR_CHARS, MAX_LIMIT
from api.problems import CONTENT_TYPE, PROBLEM_TYPES

SCHEME_NAME = "personalAccessToken"


class PersonalAccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.PersonalAccessTokenAuthentication"
    name = SCHEME_NAME

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "qgp_…",
            "description": "A personal access token from the Quaygate portal, sent as "
            "`Authorization: Bearer qgp_…`. Never in the URL: a token in the query string is "
            "refused (400) and its owner warned.",
        }


class ChoicesFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.ChoicesField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        item = {**build_basic_type(OpenApiTypes.STR), "enum": list(self.target.choices)}
        return {"type": "array", "items": item, "maxItems": self.target.MAX_VALUES}


class TextFieldSchema(OpenApiSerializerFieldExtension):
    """Say in the schema which characters api.serializers.TextField refuses."""

    target_class = "api.serializers.TextField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if self.target.multiline:
            schema["pattern"] = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
        else:
            schema["pattern"] = r"^[^\x00-\x1f\x7f]*$"
        return schema


class TimeZoneFieldSchema(OpenApiSerializerFieldExtension):
    """Every value api.serializers.TimeZoneField takes, so a client (and Swagger UI's drop-down)
    knows the zone names this server knows."""

    target_class = "api.serializers.TimeZoneField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = {**build_basic_type(OpenApiTypes.STR), "enum": self.target.choices()}
        if isinstance(self.target.default, str):
            schema["default"] = self.target.default
        return schema


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Bodies refuse unknown fields (api.serializers.StrictSerializer): say so."""

    target_class = "api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class ProblemFieldError(serializers.Serializer):
    field = serializers.CharField(
        required=False, help_text="The parameter or body field (dotted for nested items)."
    )
    code = serializers.CharField(help_text="A stable machine code for this error.")
    detail = serializers.CharField(help_text="What is wrong, for a person.")


class Problem(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI reference that documents this kind of problem.")
    title = serializers.CharField(help_text="A short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What happened this time, for a person.")
    code = serializers.ChoiceField(
        choices=list(PROBLEM_TYPES), help_text="A stable machine code to branch on."
    )
    errors = ProblemFieldError(
        many=True, required=False, help_text="Each invalid parameter or field (400 only)."
    )
    request_id = serializers.CharField(
        required=False,
        help_text="This request's id, also in the `X-Request-Id` header: quote it to support.",
    )


_ERROR_TEXT = {
    400: "Invalid parameters or body; `errors` lists each field.",
    401: "No token, or the token is invalid, expired, revoked or not allowed from this address.",
    403: "The token lacks the scope this operation needs.",
    404: "No such object visible to this token.",
    409: "The token is no longer active.",
    422: "The request is well-formed but refused.",
    413: "The body is too large.",
    415: "The body is not JSON.",
    429: "Rate limit exceeded; retry after `Retry-After` seconds.",
    503: "The service is briefly unavailable; retry after `Retry-After` seconds.",
}

_HEADERS = {
    "X-RateLimit-Limit": (OpenApiTypes.INT, "Requests this token may make per hour."),
    "X-RateLimit-Remaining": (OpenApiTypes.INT, "Requests left in the current hour."),
    "X-RateLimit-Reset": (
        OpenApiTypes.INT,
        "When the current hour's count resets (Unix epoch seconds).",
    ),
    "X-Token-Scopes": (OpenApiTypes.STR, "The calling token's scopes, comma-separated."),
}


def token_headers(statuses: list[int]) -> list[OpenApiParameter]:
    """The headers every response of an authenticated request carries (not a 401: there is
    no token to speak of)."""
    return [
        OpenApiParameter(
            name, kind, OpenApiParameter.HEADER, response=statuses, description=description
        )
        for name, (kind, description) in _HEADERS.items()
    ]


PAGINATION_PARAMETERS = [
    OpenApiParameter(
        CURSOR_PARAM,
        {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "maxLength": MAX_CURSOR_CHARS},
        OpenApiParameter.QUERY,
        description="Where the page starts: take it from the `next` or `previous` link of "
        "the page before. Opaque; leave it out for the first page.",
    ),
    OpenApiParameter(
        LIMIT_PARAM,
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        OpenApiParameter.QUERY,
        description=f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
    ),
]


def problem(status: int, description: str = "") -> tuple[tuple[int, str], OpenApiResponse]:
    return (status, CONTENT_TYPE), OpenApiResponse(
        Problem, description=description or _ERROR_TEXT[status]
    )


def idempotency_parameters(*, replayable: bool, success: Sequence[int]) -> list[OpenApiParameter]:
    """The Idempotency-Key request header, and the response header that marks a replay."""
    if replayable:
        retry = (
            "A retry with the same key and the same request (method, path and body) within 24 "
            f"hours does not run again: it gets the first response, with `{REPLAYED_HEADER}: "
            "true`."
        )
    else:
        retry = (
            "The new secret is never stored, so a retry with the same key is not run again and "
            "gets 409 `idempotency_key_used` instead of the secret. Rotate with "
            "`overlap_hours` above 0 from code: if the answer is lost, the old secret still "
            "works for a rotation with a new key."
        )
    parameters = [
        OpenApiParameter(
            KEY_HEADER,
            {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
            OpenApiParameter.HEADER,
            required=False,
            description="Optional. A unique key (a UUID) that makes retrying this write safe. "
            f"{retry} The same key with a different request is 422 "
            "`idempotency_key_reused`; while the first request still runs, 409 "
            "`idempotency_key_in_use`. Only successful responses are kept; after an error the "
            "key is free again.",
        )
    ]
    if replayable:
        parameters.append(
            OpenApiParameter(
                REPLAYED_HEADER,
                {"type": "string", "enum": ["true"]},
                OpenApiParameter.HEADER,
                response=list(success),
                description="Present on a replay of a stored response (Idempotency-Key).",
            )
        )
    return parameters


_IDEMPOTENCY_ERRORS = {
    400: "The `Idempotency-Key` header is malformed (`errors` names it).",
    409: "A request with the same Idempotency-Key is still running "
    "(`idempotency_key_in_use`; retry after `Retry-After` seconds).",
    422: "The Idempotency-Key was used for a different request (`idempotency_key_reused`).",
}
_NOT_REPLAYED = (
    " Or the Idempotency-Key already rotated this token (`idempotency_key_used`): the new "
    "secret is not stored, so it is not replayed."
)


def _error_statuses(
    errors: Sequence[int], *, idempotent: bool, replayable: bool, authenticated: bool
) -> tuple[set[int], dict[int, str]]:
    """The problem statuses an operation can answer, with the texts that differ from the
    defaults (an idempotent write's 409/422 say why)."""
    statuses = {*errors, 503, 429}
    texts: dict[int, str] = {}
    if idempotent:
        statuses |= set(_IDEMPOTENCY_ERRORS)
        for status, text in _IDEMPOTENCY_ERRORS.items():
            texts[status] = (
                f"{_ERROR_TEXT[status]} Or: {text[0].lower()}{text[1:]}"
                if status in errors
                else text
            )
        if not replayable:
            texts[409] += _NOT_REPLAYED
    if authenticated:
        statuses.add(401)
    return statuses, texts


def _access_text(scope: str | None, *, authenticated: bool) -> str:
    if not authenticated:
        return "\n\n**Authentication:** none."
    if scope:
        return f"\n\n**Required scope:** `{scope}`."
    return "\n\n**Required scope:** none — any valid token."


def api_operation(
    *,
    summary: str,
    description: str,
    tags: Sequence[str],
    operation_id: str,
    scope: str | None,
    responses: dict[Any, Any],
    errors: Sequence[int] = (),
    parameters: Sequence[Any] = (),
    request: Any = None,
    authenticated: bool = True,
    paginated: bool = False,
    idempotent: bool = False,
    replayable: bool = True,
) -> Callable:
    """extend_schema with what every operation shares: scope in the text and in
    `x-required-scopes`, the problem responses, the rate-limit response headers; for a write
    that takes an Idempotency-Key (api.views.base.idempotent), the header and its problems."""
    statuses, texts = _error_statuses(
        errors, idempotent=idempotent, replayable=replayable, authenticated=authenticated
    )
    if scope and authenticated:
        statuses.add(403)
    description += _access_text(scope, authenticated=authenticated)
    all_responses = dict(responses)
    for status in sorted(statuses):
        key, value = problem(status, texts.get(status, ""))
        all_responses[key] = value
    extra = [*(PAGINATION_PARAMETERS if paginated else [])]
    if idempotent:
        extra += idempotency_parameters(replayable=replayable, success=list(responses))
    if authenticated:
        extra += token_headers(sorted({*responses, *statuses} - {401}))
    return extend_schema(
        summary=summary,
        description=description,
        tags=list(tags),
        operation_id=operation_id,
        request=request,
        responses=all_responses,
        parameters=[*parameters, *extra],
        extensions={"x-required-scopes": [scope] if scope else []},
        auth=None if authenticated else [],
    )
