"""The request id: one string that finds a request in responses, logs, the usage log and tasks.

A request takes the `X-Request-Id` its proxy sent when the proxy is one of ours
(settings.TRUSTED_PROXIES) and the value is a UUID (with or without dashes: nginx's
`$request_id` and Envoy's `x-request-id` both are); otherwise it gets a new one, 128 random
bits as 32 hex characters. A UUID because the usage log stores it in a UUID column, unique:
a proxy must make a fresh id per request, never pass a client's through (a repeated id is
taken for a replay there and the second row is dropped).

The id of the work in progress lives in a context variable, so code far from the request (the
problem+json renderer, the usage log, a logging filter, the Celery publish hook) reads it
without being handed the request; a Celery worker sets it from the task's headers.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar, Token

from django.http import HttpRequest

from core.net import from_trusted_proxy

HEADER = "X-Request-Id"
META_KEY = "HTTP_X_REQUEST_ID"
# Celery message header that carries the id of the request (or task) that queued the work.
TASK_HEADER = "quaygate_request_id"

_UUID = re.compile(
    r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_current: ContextVar[str | None] = ContextVar("quaygate_request_id", default=None)


def new() -> str:
    # os.urandom: a tenth of uuid4()'s cost, and the same 128 random bits for the UUID column.
    return os.urandom(16).hex()


def is_sane(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def for_request(request: HttpRequest) -> str:
    """The id the trusted proxy gave this request, or a new one."""
    offered = request.META.get(META_KEY)
    if offered is not None and is_sane(offered) and from_trusted_proxy(request):
        return offered
    return new()


def current() -> str | None:
    """The id of the request or task this code runs for, None outside of one."""
    return _current.get()


def activate(request_id: str | None) -> Token:
    """Make `request_id` current; give the returned token to `deactivate` when done."""
    return _current.set(request_id)


def deactivate(token: Token) -> None:
    _current.reset(token)
