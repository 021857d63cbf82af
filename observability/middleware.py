"""The first middleware: every request gets its id; every partner-API request is counted and
logged once.

Outermost, so the id is on every response (an SSL redirect, a CSRF refusal, a 500 page) and
in everything below it (the usage log, problem+json bodies, log lines, queued tasks); and so
the measured latency covers all the other middleware.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from core import requestid
from observability import logs, metrics

API_PREFIX = "/api/v1/"

access_log = logging.getLogger("quaygate.api")
logger = logging.getLogger(__name__)


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request.qg_request_id = requestid.for_request(request)
        activated = requestid.activate(request_id)
        try:
            if request.path_info.startswith(API_PREFIX):
                response = self._api_request(request)
            else:
                response = self.get_response(request)
        finally:
            requestid.deactivate(activated)
        response[requestid.HEADER] = request_id
        return response

    def _api_request(self, request: HttpRequest) -> HttpResponseBase:
        in_request = logs.current_request.set(request)
        try:
            started = time.perf_counter()
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            if settings.QUAYGATE["METRICS_ENABLED"]:
                try:
                    metrics.observe(request, response, seconds=seconds)
                except Exception:
                    # A metric is worth less than the partner's answer.
                    logger.exception("Could not count an API request")
            if access_log.isEnabledFor(logging.INFO):
                _log_request(request, response, seconds)
            return response
        finally:
            logs.current_request.reset(in_request)


def _log_request(request: HttpRequest, response: HttpResponseBase, seconds: float) -> None:
    """One line per API request: request id, organisation, token prefix, route, method, status
    and latency. Never the path (a token sent in the URL is in it) nor the query string."""
    latency_ms = round(seconds * 1000, 2)
    context = logs.request_context(request)
    access_log.info(
        "%s %s %s %.2fms",
        request.method,
        context["route"],
        response.status_code,
        latency_ms,
        extra={
            **context,
            "request_id": request.qg_request_id,
            "method": request.method,
            "status": response.status_code,
            "latency_ms": latency_ms,
        },
    )
