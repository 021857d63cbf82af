"""The partner API's per-request metrics: counted in process memory, never over the network.

prometheus-client keeps each value in this process (or, with PROMETHEUS_MULTIPROC_DIR set, in
an mmap'ed file of that directory that every gunicorn worker of the host writes its own of, and
/metrics sums). No Redis, no database.

The request itself only appends one tuple to a list (`observe`); a thread of the process hands
the list to prometheus-client every FLUSH_SECONDS (`flush`), so a scrape sees a request at most
a second late. Writing each request's three values (a counter, a histogram's bucket and sum)
straight away cost ~18 µs of the request's CPU in multiprocess mode (the values' locks, pid
checks and mmap'ed pages are cold again by the next request); appending costs ~1 µs, and the
thread's batch touches each value once per second and label set (`make bench` measures it).

Labels are bounded by construction: the route is the URL pattern (not the path), the method
one of a fixed set, the status a class, the token kind one of four words, the failure reason
one of authentication's.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter as Tally
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from prometheus_client import Counter, Histogram

from tokens import scopes as scope_rules

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
# A flusher that cannot keep up (or died) never lets the list grow past this: the request that
# finds it this long flushes it itself.
MAX_PENDING = 10_000

REQUESTS = Counter(
    "quaygate_api_requests",
    "Partner API requests answered, by route pattern, method, status class and token kind.",
    ["route", "method", "status_class", "token_kind"],
)
DURATION = Histogram(
    "quaygate_api_request_duration_seconds",
    "Time to answer a partner API request, authentication and usage logging included.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
AUTH_FAILURES = Counter(
    "quaygate_auth_failures",
    "Partner API requests refused by token authentication, by reason.",
    ["reason"],
)
RATE_LIMITED = Counter(
    "quaygate_rate_limited",
    "Partner API requests refused with 429: a token over its hourly limit (limit=token) or an "
    "address blocked after failed authentications or leak reports (limit=address).",
    ["limit"],
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# tokens.authentication's reasons (request.qg_auth_failure["reason"]); anything new is "other"
# until it is added here, so a typo can never mint a new series per request.
REASONS = frozenset(
    {
        "missing",
        "malformed",
        "bad_checksum",
        "unknown",
        "revoked",
        "expired",
        "rotated",
        "ip_not_allowed",
        "address_blocked",
        "token_in_url",
        "owner_without_2fa",
    }
)
_LIMITS = {"rate_limited": "token", "too_many_requests": "address"}
# Every series exists from the start, at 0: a rate() over a series that appears with its first
# failure would miss that failure.
for _reason in (*REASONS, "other"):
    AUTH_FAILURES.labels(_reason)
for _limit in _LIMITS.values():
    RATE_LIMITED.labels(_limit)

# Label children by their values: `.labels()` takes a lock and builds a key on every call.
_children: dict[tuple[Any, ...], Any] = {}


def _child(metric, *values: str):
    key = (metric, *values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


def token_kind(request: HttpRequest) -> str:
    """`write` or `read` for a request its token authenticated (write: it holds any write
    scope), `refused` when credentials were refused, `none` when none came."""
    state = getattr(request, "qg_token", None)
    if state is not None:
        memo = state.memo
        kind = memo.get("kind")
        if kind is None:
            kind = memo["kind"] = kind_of_scopes(state.scopes)
        return kind
    return "refused" if getattr(request, "qg_auth_failure", None) else "none"


def kind_of_scopes(scopes) -> str:
    return "write" if scope_rules.has_write_scope(scopes) else "read"


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


# (route, method, status class, token kind, seconds, failure reason, limit) per request.
Observation = tuple[str, str, int, str, float, str | None, str | None]
_pending: list[Observation] = []
_lock = threading.Lock()
_flusher: threading.Thread | None = None


def observe(request: HttpRequest, response: HttpResponseBase, *, seconds: float) -> None:
    """Count one answered API request (handed to prometheus-client within FLUSH_SECONDS)."""
    status = response.status_code
    code = (getattr(response, "problem", None) or {}).get("code") if status >= 400 else None
    if getattr(request, "qg_auth_failure", None):
        failure = _failure_reason(request)
    else:
        # No credentials at all. Another endpoint's own 401 (a webhook's bad signature) is not
        # a token refused.
        failure = "missing" if code == "not_authenticated" else None
    limit = _LIMITS.get(code) if status == 429 else None
    method = request.method if request.method in METHODS else "OTHER"
    entry = (route_of(request), method, status // 100, token_kind(request), seconds, failure, limit)
    with _lock:
        _pending.append(entry)
        backlog = len(_pending)
    if _flusher is None:
        _start_flusher()
    if backlog >= MAX_PENDING:
        flush()


def flush() -> int:
    """Hand what requests observed to prometheus-client. Returns how many requests."""
    global _pending
    with _lock:
        batch, _pending = _pending, []
    requests, failures, limits = Tally(), Tally(), Tally()
    for route, method, status_class, kind, seconds, failure, limit in batch:
        requests[route, method, f"{status_class}xx", kind] += 1
        _child(DURATION, route).observe(seconds)
        if failure is not None:
            failures[failure] += 1
        if limit is not None:
            limits[limit] += 1
    for labels, count in requests.items():
        _child(REQUESTS, *labels).inc(count)
    for reason, count in failures.items():
        _child(AUTH_FAILURES, reason).inc(count)
    for limit, count in limits.items():
        _child(RATE_LIMITED, limit).inc(count)
    return len(batch)


def _failure_reason(request: HttpRequest) -> str:
    reason = request.qg_auth_failure.get("reason")
    return reason if reason in REASONS else "other"


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception:
            logger.exception("Could not hand the API request metrics to prometheus-client")


def _start_flusher() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
        _flusher.start()


def _forget_parent_flusher() -> None:
    # A forked child (a gunicorn worker) has none of its parent's threads, nor its pending list.
    global _flusher, _pending, _lock
    _flusher, _pending, _lock = None, [], threading.Lock()


os.register_at_fork(after_in_child=_forget_parent_flusher)
atexit.register(flush)  # a worker that exits (max-requests, a reload) counts its last second
