"""The parts of the benchmark that run in this process: token verification, the telemetry
query, the anomaly pass and the expiry scan."""

import io
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import TruncHour
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from fleet.models import Spreader, TelemetryReading
from telemetry.detection import reset_detection, run_detection
from tokens import format as token_format
from tokens.authentication import PersonalAccessTokenAuthentication
from tokens.expiry import send_expiry_notices


@dataclass(frozen=True)
class Verification:
    valid_us: float
    wrong_secret_us: float
    bad_checksum_us: float
    bad_checksum_queries: int


def _per_call_us(function: Callable[[], object], calls: int) -> float:
    """Median of five timed runs of `calls` calls, in µs per call (the median drops a run that
    a garbage collection or another process happened to hit)."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter() - started) / calls * 1_000_000)
    return statistics.median(runs)


def _flip_checksum(secret: str) -> str:
    last = secret[-1]
    return secret[:-1] + ("A" if last != "A" else "B")


def token_verification(secret: str, *, calls: int = 2000) -> Verification:
    """authenticate() on a request carrying a valid PAT, a well-formed unknown one (right
    checksum, wrong secret: costs the lookup) and one with a bad checksum (costs nothing)."""
    factory = APIRequestFactory()
    authentication = PersonalAccessTokenAuthentication()
    wrong = token_format.generate()
    bad = _flip_checksum(secret)
    if token_format.parse(bad) is not None:
        raise RuntimeError("the flipped token must fail its checksum")

    def request_with(token: str) -> Request:
        return Request(factory.get("/api/v1/token", HTTP_AUTHORIZATION=f"Bearer {token}"))

    valid_request = request_with(secret)

    def valid() -> object:
        return authentication.authenticate(valid_request)

    def refused(token: str) -> Callable[[], object]:
        request = request_with(token)  # built once: the figure is verification, not parsing

        def call() -> None:
            try:
                authentication.authenticate(request)
            except AuthenticationFailed:
                return
            raise AssertionError("a bad token was accepted")

        return call

    valid()  # the first call loads the state into the cache, like the first request would
    with CaptureQueriesContext(connection) as queries:
        refused(bad)()
    # The failed-guess limit would refuse this address after 30 wrong secrets without
    # looking them up; the figure is the cost of looking one up, so lift the limit here.
    unlimited = {**settings.QUAYGATE, "API_AUTH_FAILURES_PER_IP": "100000000/m"}
    with override_settings(QUAYGATE=unlimited):
        wrong_secret_us = _per_call_us(refused(wrong), calls // 4)
    return Verification(
        valid_us=_per_call_us(valid, calls),
        wrong_secret_us=wrong_secret_us,
        bad_checksum_us=_per_call_us(refused(bad), calls),
        bad_checksum_queries=len(queries.captured_queries),
    )


def hourly_telemetry(spreader: Spreader, *, since: datetime, until: datetime):
    """Hour buckets of one spreader's readings, as a partner's dashboard would ask for them."""
    return list(
        TelemetryReading.objects.filter(
            spreader=spreader, recorded_at__gte=since, recorded_at__lt=until
        )
        .annotate(hour=TruncHour("recorded_at"))
        .values("hour")
        .annotate(
            readings=Count("id"),
            load_tonnes=Avg("load_tonnes"),
            pressure_min=Min("hydraulic_pressure_bar"),
            pressure_max=Max("hydraulic_pressure_bar"),
            oil_max=Max("oil_temperature_c"),
            lifts=Max("lifts"),
        )
        .order_by("hour")
    )


def time_call(function: Callable[[], object], *, repeat: int = 5) -> tuple[float, object]:
    """Median wall time in ms of `repeat` calls, and the last result."""
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), result


def telemetry_query_ms(spreader: Spreader, *, until: datetime) -> tuple[float, int]:
    since = until - timedelta(days=30)
    hourly_telemetry(spreader, since=since, until=until)  # warm the buffer cache, as in use
    elapsed, buckets = time_call(lambda: hourly_telemetry(spreader, since=since, until=until))
    return elapsed, len(buckets)


def anomaly_full_pass() -> tuple[float, int]:
    """Rewind and re-read the whole usage log, relearning every token's countries/IPs/agents."""
    reset_detection(forget_sightings=True)
    started = time.perf_counter()
    result = run_detection(lag_seconds=0, max_batches=10_000)
    return time.perf_counter() - started, result.rows_to_id


def anomaly_incremental_pass(*, rows: int, seed: int) -> tuple[float, int]:
    """`rows` new rows on top of a log the pass has caught up with, then one pass."""
    run_detection(lag_seconds=0, max_batches=10_000)  # caught up before the new rows arrive
    call_command(
        "generate_usage", rows=rows, seed=seed, days=5 / 1440, verbosity=0, stdout=io.StringIO()
    )
    started = time.perf_counter()
    result = run_detection(lag_seconds=0, max_batches=10_000)
    return time.perf_counter() - started, result.rows_to_id


def expiry_scan() -> tuple[float, int]:
    started = time.perf_counter()
    queued = send_expiry_notices()
    return time.perf_counter() - started, queued


def metrics_observe_us(secret: str, *, calls: int = 20_000) -> float:
    """What the per-request metrics cost: observability.metrics.observe() on an authenticated
    GET /api/v1/token as the middleware sees it, in µs per request."""
    from django.http import HttpResponse
    from django.urls import resolve

    from observability import metrics

    request = APIRequestFactory().get("/api/v1/token", HTTP_AUTHORIZATION=f"Bearer {secret}")
    PersonalAccessTokenAuthentication().authenticate(Request(request))
    request.resolver_match = resolve(request.path_info)
    response = HttpResponse(b"{}")
    return _per_call_us(lambda: metrics.observe(request, response, seconds=0.002), calls)
