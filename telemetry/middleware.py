"""Logs every partner-API request (/api/v1/…) to the usage log, after the response is built."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from telemetry.usage import build_usage_record, record_usage

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"


class UsageLogMiddleware:
    """Outermost-ish, so the latency covers authentication, throttling and the view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        started_at = timezone.now()
        started = time.perf_counter()
        response = self.get_response(request)
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            record = build_usage_record(
                request, response, started_at=started_at, latency_ms=latency_ms
            )
            record_usage(record)
        except Exception:
            # Losing one log line is bad; failing the partner's request because of it is worse.
            logger.exception("Could not record API usage")
        return response
