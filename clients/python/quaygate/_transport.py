"""Sending one request: the token in the Authorization header (never the URL), retries that
honour Retry-After on 429 and on 5xx of requests safe to repeat, the rate-limit headers kept,
and error answers turned into exceptions."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from quaygate.errors import ConnectionFailed, QuaygateError, error_for
from quaygate.models import RateLimit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
KEY_HEADER = "Idempotency-Key"


def retry_after(headers: Any) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class Transport:
    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        timeout: float,
        max_retries: int,
        max_retry_wait: float,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.sleep = sleep
        self.rate_limit: RateLimit | None = None
        self.http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        self.user_agent = user_agent

    def path_of(self, url: str) -> str:
        """A `next` link's path and query, sent to our base URL: the token goes nowhere else."""
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        authenticated: bool = True,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        method = method.upper()
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if authenticated and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if method not in SAFE_METHODS and idempotency_key is None and authenticated:
            idempotency_key = str(uuid.uuid4())
        if idempotency_key is not None:
            headers[KEY_HEADER] = idempotency_key
        repeatable = method in SAFE_METHODS or idempotency_key is not None
        url = self.base_url + path
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self.http.request(
                    method, url, params=_clean(params), json=json, headers=headers
                )
            except httpx.TransportError as error:
                if not repeatable or last:
                    raise ConnectionFailed(f"{method} {path}: {type(error).__name__}") from None
                self.sleep(_backoff(attempt))
                continue
            self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
            if response.status_code < 400:
                return response
            wait = self._retry_wait(response, repeatable=repeatable, attempt=attempt)
            if wait is None or last:
                raise self.error(response)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(
        self, response: httpx.Response, *, repeatable: bool, attempt: int
    ) -> float | None:
        """How long to wait before trying again, or None: don't."""
        status = response.status_code
        in_use = status == 409 and _code(response) == "idempotency_key_in_use"
        if not (status == 429 or in_use or (status in RETRY_STATUSES and repeatable)):
            return None
        wait = retry_after(response.headers)
        wait = _backoff(attempt) if wait is None else wait
        return wait if wait <= self.max_retry_wait else None

    def error(self, response: httpx.Response) -> QuaygateError:
        try:
            body = response.json()
        except ValueError:
            body = None
        return error_for(
            response.status_code, body, response.headers, retry_after(response.headers)
        )

    def close(self) -> None:
        self.http.close()


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset filters; lists as comma-separated values, booleans as true/false, times ISO."""
    if not params:
        return None
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple, set, frozenset)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        cleaned[key] = value
    return cleaned


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def _backoff(attempt: int) -> float:
    return min(30.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 (jitter)
