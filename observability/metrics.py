"""The partner API's per-request metrics: counted in process memory, never over the network.

prometheus-client keeps each value in this process (or, with PROMETHEUS_MULTIPROC_DIR set, in
an mmap'ed file of that directory that every gunicorn worker of the host writes its own of, and
/metrics sums). An observation is a few memory writes under a lock: no Redis, no database, no
system call, so the request path pays microseconds for it (`make bench` measures it).

Labels are bounded by construction: the route is the URL pattern (not the path), the method
one of a fixed set, the status a class, the token kind one of four words, the failure reason
one of authentication's.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from prometheus_client import Counter, Histogram

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
    return "write" if any(scope.endswith(":write") for scope in scopes) else "read"


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


def observe(request: HttpRequest, response: HttpResponseBase, *, seconds: float) -> None:
    """Count one answered API request."""
    route = route_of(request)
    status = response.status_code
    method = request.method if request.method in METHODS else "OTHER"
    _child(REQUESTS, route, method, f"{status // 100}xx", token_kind(request)).inc()
    _child(DURATION, route).observe(seconds)
    if status == 401 or getattr(request, "qg_auth_failure", None):
        _count_failure(request)
    if status == 429:
        problem = getattr(response, "problem", None) or {}
        limit = _LIMITS.get(problem.get("code"))
        if limit is not None:
            _child(RATE_LIMITED, limit).inc()


def _count_failure(request: HttpRequest) -> None:
    failure = getattr(request, "qg_auth_failure", None)
    reason = failure.get("reason") if failure else "missing"
    _child(AUTH_FAILURES, reason if reason in REASONS else "other").inc()
