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


_ERROR_TEXT = {
    400: "Invalid parameters or body; `errors` lists each field.",
    401: "No token, or the token is invalid, expired, revoked or not allowed from this address.",
    403: "The token lacks the scope this operation needs.",
    404: "No such object visible to this token.",
    409: "The token is no longer active.",
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


def problem(status: int) -> tuple[tuple[int, str], OpenApiResponse]:
    return (status, CONTENT_TYPE), OpenApiResponse(Problem, description=_ERROR_TEXT[status])


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
) -> Callable:
    """extend_schema with what every operation shares: scope in the text and in
    `x-required-scopes`, the problem responses, the rate-limit response headers."""
    statuses = {*errors, 503}
    if authenticated:
        statuses |= {401, 429}
        if scope:
            statuses.add(403)
        if scope:
            description += f"\n\n**Required scope:** `{scope}`."
        else:
            description += "\n\n**Required scope:** none — any valid token."
    else:
        statuses.add(429)
        description += "\n\n**Authentication:** none."
    all_responses = dict(responses)
    for status in sorted(statuses):
        key, value = problem(status)
        all_responses[key] = value
    extra = [*(PAGINATION_PARAMETERS if paginated else [])]
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
