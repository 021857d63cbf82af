"""OpenTelemetry tracing, only when asked for: OTEL_EXPORTER_OTLP_ENDPOINT set.

Set, Django (every request a server span), psycopg (every query), redis-py (the cache, the
usage stream, the broker's commands, the hot path's leases and misses; the invalidation
listener in core.hotredis reads its own socket, below the client the instrumentation wraps, so
its non-blocking read is inside the request span without a span of its own) and Celery (publishing puts the trace
context in the task's headers; the worker continues the trace) are instrumented, and spans go
to the OTLP/HTTP exporter in batches. The exporter reads the standard OTEL_* variables
(endpoint, headers, timeout); OTEL_SERVICE_NAME names the service (default "quaygate").

Unset (the default), this module imports nothing of OpenTelemetry and nothing costs anything.
"""

from __future__ import annotations

import os
from typing import Any

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_instrumentors: list[Any] = []


def configure_from_environment() -> bool:
    """Called once per process from the app's ready(). True when tracing was switched on."""
    if not os.environ.get(ENDPOINT_VARIABLE) or _instrumentors:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    configure(BatchSpanProcessor(OTLPSpanExporter()))
    return True


def configure(span_processor: Any) -> Any:
    """Install a tracer provider sending spans to `span_processor`, and instrument Django,
    psycopg, redis and Celery. Returns the provider (tests give an in-memory exporter)."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "quaygate")})
    )
    provider.add_span_processor(span_processor)
    trace.set_tracer_provider(provider)
    instrument(provider)
    return provider


def instrument(provider: Any) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (
        DjangoInstrumentor(),
        PsycopgInstrumentor(),
        RedisInstrumentor(),
        CeleryInstrumentor(),
    ):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
            _instrumentors.append(instrumentor)


def uninstrument() -> None:
    """Undo `instrument` (tests)."""
    while _instrumentors:
        _instrumentors.pop().uninstrument()
