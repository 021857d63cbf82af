"""Log lines that say which request they belong to, and never carry a secret.

`RequestContextFilter` (on the handler, so every logger's records pass it: ours, Django's,
Celery's, gunicorn's) puts on each record the current request id and, inside an API request,
what authentication learnt: the organisation id, the token's display prefix and the route.
The request's own line (observability.middleware) adds status and latency.

Both formatters redact anything shaped like one of our secrets from the finished line
(core.redaction), whatever put it there: Django's "Not Found: /api/v1/qgp_…" warning logs the
path, an exception message may quote input. They format and then redact, so a secret in the
message, its arguments, an `extra` field or a traceback is caught alike.

JSON lines come from python-json-logger (production settings); readable text from the standard
library's Formatter (the embedded default).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from core import requestid
from core.redaction import redact_secrets

# The API request being served, for the filter (set by observability.middleware).
current_request: ContextVar = ContextVar("quaygate_log_request", default=None)

CONTEXT_FIELDS = ("request_id", "organization_id", "token_prefix", "route")


def request_context(request) -> dict[str, object]:
    """What a log line may say about an API request: never the Authorization header, never
    the query string; the token's display prefix only."""
    token = getattr(request, "qg_token", None)
    failure = getattr(request, "qg_auth_failure", None) or {}
    match = getattr(request, "resolver_match", None)
    return {
        "organization_id": getattr(token, "organization_id", None)
        or failure.get("organization_id"),
        "token_prefix": getattr(token, "display_prefix", None) or failure.get("token_prefix"),
        "route": match.route if match is not None else None,
    }


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django's own request lines ("Not Found: …") are written after every middleware has
        # returned, with the request in `extra`.
        if getattr(record, "request_id", None) is None:
            record.request_id = requestid.current() or getattr(
                getattr(record, "request", None), "qg_request_id", None
            )
        request = current_request.get() or _api_request_of(record)
        if request is not None:
            for key, value in request_context(request).items():
                if getattr(record, key, None) is None:
                    setattr(record, key, value)
        return True


def _api_request_of(record: logging.LogRecord):
    request = getattr(record, "request", None)
    path = getattr(request, "path_info", None)
    return request if isinstance(path, str) and path.startswith("/api/v1/") else None


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line; secret-shaped strings redacted."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("reserved_attrs", _RESERVED)
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


class RedactingTextFormatter(logging.Formatter):
    """`time LEVEL logger message [request_id org=… token=… route=…]`; secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _text_context(record)
        return redact_secrets(f"{line} [{context}]" if context else line)


def _text_context(record: logging.LogRecord) -> str:
    parts = []
    request_id = getattr(record, "request_id", None)
    if request_id:
        parts.append(f"req={request_id}")
    for key, label in (
        ("organization_id", "org"),
        ("token_prefix", "token"),
        ("route", "route"),
        ("status", "status"),
        ("latency_ms", "ms"),
    ):
        value = getattr(record, key, None)
        if value not in (None, ""):
            parts.append(f"{label}={value}")
    return " ".join(parts)


# LogRecord's own attributes that are not worth a JSON key of their own (python-json-logger
# adds every other attribute, so `extra={...}` fields and the filter's context come through).
_RESERVED = (
    "args",
    "created",
    "exc_info",
    "exc_text",
    "filename",
    "funcName",
    "levelno",
    "lineno",
    "module",
    "msecs",
    "msg",
    "pathname",
    "process",
    "processName",
    "relativeCreated",
    "request",  # Django's: the filter took what may be said of it
    "stack_info",
    "taskName",
    "thread",
    "threadName",
)
