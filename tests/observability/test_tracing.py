"""OpenTelemetry, only when OTEL_EXPORTER_OTLP_ENDPOINT is set: then one trace runs from the
API request to the Celery task it queued, through the task's headers."""

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.worker import ROOT, wait_for

PROBE = """
import sys, django
django.setup()
from django.test import Client
Client().get("/healthz")
ours = ("opentelemetry.instrumentation", "opentelemetry.sdk.trace", "opentelemetry.exporter")
print(sum(1 for name in sys.modules if name.startswith(ours)))
if "opentelemetry.instrumentation" in sys.modules:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    print(all(i().is_instrumented_by_opentelemetry for i in (
        CeleryInstrumentor, DjangoInstrumentor, PsycopgInstrumentor, RedisInstrumentor)))
"""


def run_probe(**env: str) -> list[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment |= {"DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.split()


def test_without_the_endpoint_no_tracing_is_loaded_or_switched_on():
    # No tracer, exporter or instrumentation is imported. (redis-py 8 itself imports
    # opentelemetry's metrics SDK when it is installed, to offer its own opt-in metrics; it
    # stays off.)
    assert run_probe() == ["0"]


def test_with_the_endpoint_django_psycopg_redis_and_celery_are_instrumented():
    # Nothing listens there: the probe's one span fails to export, quietly, within a second.
    loaded, instrumented = run_probe(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )

    assert int(loaded) > 0
    assert instrumented == "True"


@pytest.fixture
def spans() -> Iterator:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from observability import tracing

    exporter = InMemorySpanExporter()
    provider = tracing.configure(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstrument()
    provider.shutdown()


@pytest.fixture
def threaded_worker() -> Iterator[None]:
    """A Celery worker in a thread of this process, on the configured broker, so its spans
    land in the same in-memory exporter; the trace context still travels in the message."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_one_trace_runs_from_the_api_request_to_the_task_it_queued(
    spans, threaded_worker, issue, owner, api_client
):
    from opentelemetry.trace import SpanKind

    secret = issue(owner, name="traced").secret
    spans.clear()

    response = api_client(secret).post("/api/v1/token/rotate", {}, format="json")
    assert response.status_code == 201

    def finished(kind):
        return [span for span in spans.get_finished_spans() if span.kind == kind]

    (server,) = finished(SpanKind.SERVER)
    trace_id = server.context.trace_id

    def ran():  # the token's creation queued an email before this request: not in its trace
        return [span for span in finished(SpanKind.CONSUMER) if span.context.trace_id == trace_id]

    assert wait_for(ran, timeout=30)
    (run,) = ran()
    (published,) = finished(SpanKind.PRODUCER)
    assert "rotate" in server.name
    assert "send_notification" in published.name
    assert "send_notification" in run.name
    # request -> publish (inside the request) -> run (in the worker, from the message headers)
    assert published.context.trace_id == trace_id
    assert published.parent.span_id == server.context.span_id
    assert run.parent.span_id == published.context.span_id
