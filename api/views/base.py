"""The base of every v1 view: token authentication, scope permission, our parser and errors,
the token's headers on every response, and a declared way to announce deprecation.

Deprecating an operation (the documented policy, see the getting-started page): set on its view

    deprecated_on = datetime(2027, 1, 1, tzinfo=UTC)    # -> Deprecation: @1798761600 (RFC 9745)
    sunset_on = datetime(2027, 7, 1, tzinfo=UTC)        # -> Sunset: Thu, 01 Jul 2027 … (RFC 8594)
    deprecation_link = "/api/getting-started/#deprecation"  # -> Link: <…>; rel="deprecation"

and mark the operation `deprecated=True` in its extend_schema. Every response carries the
headers, errors included, so a client sees them whatever it asks.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from django.db import transaction
from django.http import HttpResponseBase
from django.utils.http import http_date
from django_ratelimit.core import get_usage
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Organization
from api import idempotency
from api.exceptions import IdempotencyKeyUsed, RequestTooLarge
from api.pagination import KeysetPagination
from api.parsers import MAX_BODY_BYTES, BoundedJSONParser, declared_length
from core.net import client_ip
from fleet import sandbox
from tokens.authentication import PersonalAccessTokenAuthentication, token_response_headers
from tokens.permissions import HasScope
from tokens.state import TokenState

logger = logging.getLogger(__name__)


def ip_key(group: str, request: Any) -> str:
    """django-ratelimit key: the client address as core.net sees it (proxies believed only
    when trusted), not REMOTE_ADDR."""
    return client_ip(request) or "unknown"


def address_limit(request: Any, *, group: str, rate: str, increment: bool) -> dict[str, Any] | None:
    """django-ratelimit usage for this address, or None when the cache is down (fail open:
    a sick cache must not take the API down; the token limits still hold)."""
    try:
        return get_usage(
            getattr(request, "_request", request),
            group=group,
            key=ip_key,
            rate=rate,
            increment=increment,
        )
    except Exception:  # the cache backend's own errors (redis.ConnectionError, …)
        logger.warning("Per-address limit %s unavailable: cache error", group, exc_info=True)
        return None


class ApiView(GenericAPIView):
    authentication_classes = [PersonalAccessTokenAuthentication]
    permission_classes = [HasScope]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    # Announcing deprecation: see the module docstring.
    deprecated_on: ClassVar[datetime | None] = None
    sunset_on: ClassVar[datetime | None] = None
    deprecation_link: ClassVar[str] = ""
    # A fleet endpoint: a sandbox token's first call builds its organisation's sandbox fleet.
    serves_fleet: ClassVar[bool] = False

    @property
    def token(self) -> TokenState:
        """The calling token's state (authentication guarantees it in every handler)."""
        return self.request.auth

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, scopes, throttles
        # One indexed EXISTS per sandbox fleet call; production tokens pay nothing.
        if (
            self.serves_fleet
            and self.token.kind == "sandbox"
            and not sandbox.has_sandbox_fleet(self.token.organization_id)
        ):
            sandbox.ensure_sandbox_fleet(Organization.objects.get(pk=self.token.organization_id))

    # Authentication (tokens.authentication) also refuses an address that keeps failing: the
    # check rides on the token cache's round trip, so a good request pays nothing for it.

    def get_serializer(self, *args: Any, **kwargs: Any) -> serializers.BaseSerializer:
        """GenericAPIView's, remembered: its context (request, view) is let go with the rest
        (see _release)."""
        serializer = super().get_serializer(*args, **kwargs)
        self.__dict__.setdefault("_serializers", []).append(serializer)
        return serializer

    def validated_query(self, serializer_class: type) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def validated_body(self, serializer_class: type) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Set by authentication; absent when it failed or never ran (leak report).
        for header, value in token_response_headers(request).items():
            response[header] = value
        for header, value in self.deprecation_headers().items():
            response[header] = value
        if isinstance(response, Response):
            response.add_post_render_callback(self._release)
        else:  # a problem or a stream: nothing left to render
            self._release(response)
        return response

    def _release(self, response: HttpResponseBase) -> None:
        """Once the body is rendered, let go of DRF's bookkeeping. The view, its `Request` and
        its `Response` refer to one another (`view.request`, `request.parser_context`,
        `response.renderer_context`, `paginator.request`, an output serializer's context, which
        its fields' cycle and the response's data keep, and Django's `view.head = view.get`),
        so every request left its view, request and response for the cyclic collector, whose
        young-generation passes then cost the token endpoint ~25 µs a request. Let go, they
        are freed by refcounting when the request ends (~12 µs of collection is left, most of it
        Django's own request cycles, which the stock-DRF ceiling has too). The response's
        `data`, headers and body stay."""
        request = self.__dict__.get("request")
        if isinstance(request, Request):
            request.parser_context = None
        if isinstance(response, Response):
            response.renderer_context = None
        for serializer in self.__dict__.pop("_serializers", ()):
            serializer._context.clear()  # a list serializer shares this dict with its child
        paginator = self.__dict__.get("_paginator")
        if paginator is not None:
            paginator.__dict__.pop("request", None)
        for name in ("request", "response", "head"):
            self.__dict__.pop(name, None)

    @classmethod
    def deprecation_headers(cls) -> dict[str, str]:
        headers: dict[str, str] = {}
        if cls.deprecated_on is not None:
            headers["Deprecation"] = f"@{int(cls.deprecated_on.timestamp())}"
        if cls.sunset_on is not None:
            headers["Sunset"] = http_date(cls.sunset_on.timestamp())
        if cls.deprecation_link and headers:
            headers["Link"] = f'<{cls.deprecation_link}>; rel="deprecation"'
        return headers


class ListApiView(ApiView):
    """A paginated list: a query serializer for filters, a selector, an output serializer."""

    pagination_class = KeysetPagination
    query_serializer_class: ClassVar[type]
    ordering: ClassVar[tuple[str, ...]] = ("-id",)

    def get_ordering(self) -> tuple[str, ...]:
        return self.ordering

    def filtered_queryset(self, filters: dict[str, Any]):
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        self.filters = self.validated_query(self.query_serializer_class)
        page = self.paginate_queryset(self.filtered_queryset(self.filters))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# --- Idempotency-Key ----------------------------------------------------------------------------


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None without one; a 400 when it is malformed."""
    key = request._request.headers.get(idempotency.KEY_HEADER)
    if key is None:
        return None
    if not idempotency.is_valid_key(key):
        raise serializers.ValidationError(
            {
                idempotency.KEY_HEADER: [
                    serializers.ErrorDetail(
                        "Use 1 to 255 printable ASCII characters, not starting or ending with "
                        "a space (a UUID is a good key).",
                        code="invalid_idempotency_key",
                    )
                ]
            }
        )
    return key


def _request_body(request: Request) -> bytes:
    # Read before the parser does (the fingerprint needs the bytes); bounded the same way.
    declared = declared_length({"request": request})
    if declared is not None and declared > MAX_BODY_BYTES:
        raise RequestTooLarge(f"The request body may be at most {MAX_BODY_BYTES} bytes.")
    return request._request.body


def idempotent(*, replayable: bool = True) -> Callable:
    """A write handler that honours `Idempotency-Key` (api.idempotency says how).

    `replayable=False` for a response that carries a secret: it is not stored, and a retry gets
    409 idempotency_key_used instead of a second copy of the secret.
    """

    def decorate(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(view: ApiView, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = idempotency_key(request)
            if key is None:
                return handler(view, request, *args, **kwargs)
            claim = idempotency.claim_key(
                token_id=view.token.id,
                key=key,
                fingerprint=idempotency.fingerprint(
                    method=request.method, path=request._request.path, body=_request_body(request)
                ),
            )
            if not claim.fresh:
                if not replayable:
                    raise IdempotencyKeyUsed()
                replay = Response(claim.record.body, status=claim.record.status)
                replay[idempotency.REPLAYED_HEADER] = "true"
                return replay
            try:
                # The write and its stored response commit together, or neither does.
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
                    if response.status_code < 300:
                        body = _json(response.data) if replayable else None
                        idempotency.complete(claim, status=response.status_code, body=body)
            except BaseException:
                idempotency.release(claim)
                raise
            if response.status_code >= 300:
                idempotency.release(claim)
            return response

        return wrapper

    return decorate


def _json(data: Any) -> Any:
    """The response data as it goes on the wire (dates as strings), to store and replay."""
    return json.loads(JSONRenderer().render(data)) if data is not None else None
