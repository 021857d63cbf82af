"""GET /metrics: the Prometheus text format, for our scraper only.

Who may scrape (settings.QUAYGATE): a request with `Authorization: Bearer <METRICS_BEARER_TOKEN>`,
or one from an address in METRICS_ALLOWED_IPS (CIDRs; the client address as core.net works it
out, so behind our proxies it is the scraper's, not the proxy's). Production sets neither by
default, so /metrics is closed until one is chosen; the embedded default allows loopback.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn: several worker processes) the per-request metrics
are summed over every process's files in that directory; without it, this process's own.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from core.net import client_ip
from observability import metrics as request_metrics_of_this_process
from observability.collector import StateCollector
from tokens.allowlist import ip_allowed


class _Scrape:
    """What one scrape renders: the request metrics, then the state gauges."""

    def __init__(self, *sources) -> None:
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()


def _bearer_ok(request: HttpRequest, expected: str) -> bool:
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), expected.encode())
    )


def may_scrape(request: HttpRequest) -> bool:
    conf = settings.QUAYGATE
    if _bearer_ok(request, conf["METRICS_BEARER_TOKEN"]):
        return True
    allowed = tuple(conf["METRICS_ALLOWED_IPS"])
    # An empty list allows nobody here (ip_allowed reads it as "anyone").
    return bool(allowed) and ip_allowed(allowed, client_ip(request))


def request_metrics():
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return MultiProcessCollector(None, path=directory) if directory else REGISTRY


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        response = HttpResponse("Not allowed.\n", status=403, content_type="text/plain")
        if settings.QUAYGATE["METRICS_BEARER_TOKEN"]:
            response.status_code = 401
            response["WWW-Authenticate"] = 'Bearer realm="quaygate-metrics"'
        return response
    # This process's last second; the other workers' threads hand theirs over within one.
    request_metrics_of_this_process.flush()
    body = generate_latest(_Scrape(request_metrics(), StateCollector()))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
