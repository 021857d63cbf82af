"""The state gauges, worked out when Prometheus scrapes: a few cheap reads, never per request.

- `quaygate_usage_stream_lag`, `quaygate_usage_stream_oldest_age_seconds`: XLEN of the usage
  stream and the age of its first entry, by Redis's clock (one round trip: XLEN, XRANGE COUNT 1,
  TIME). Drained entries are deleted, so both are about what waits for the drain. An entry holds
  one flush of one process (1 to USAGE_STREAM_ENTRY_RECORDS records), so the age, not the
  length, says how far behind the usage log is.
- `quaygate_outbox_pending{kind}`, `quaygate_outbox_oldest_age_seconds`: one query over the
  outbox's partial index of queued and sending rows (normally a handful).
- `quaygate_tokens_active{kind}`, `quaygate_anomalies_total{rule, severity}`,
  `quaygate_worker_last_seen_timestamp_seconds`: from the beat-made snapshot (one cache read).

A source that fails is left out of the scrape (and logged), so one broken dependency never
hides the others; `quaygate_scrape_errors{source}` says which.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from notifications.models import Notification
from observability import snapshot
from telemetry.conf import setting
from telemetry.models import Anomaly
from telemetry.usage import redis_client

logger = logging.getLogger(__name__)

PENDING = (Notification.State.QUEUED, Notification.State.SENDING)


class StateCollector:
    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "quaygate_scrape_errors",
            "1 when a source of this scrape failed (its metrics are missing), by source.",
            labels=["source"],
        )
        for source, produce in (
            ("usage_stream", _stream),
            ("outbox", _outbox),
            ("snapshot", _snapshot),
        ):
            try:
                yield from list(produce())
                errors.add_metric([source], 0)
            except Exception:
                logger.warning("Metrics source %s failed", source, exc_info=True)
                errors.add_metric([source], 1)
        yield errors


def _stream() -> Iterator[Metric]:
    client = redis_client() if settings.REDIS_URL else None
    if client is None:
        return  # the embedded default: no stream, usage rows are inserted directly
    key = setting("USAGE_STREAM_KEY")
    pipeline = client.pipeline(transaction=False)
    pipeline.xlen(key)
    pipeline.xrange(key, count=1)
    pipeline.time()
    length, first, (seconds, microseconds) = pipeline.execute()
    lag = GaugeMetricFamily(
        "quaygate_usage_stream_lag",
        "Usage-log entries (one flush of one process each) in the Redis stream waiting for the "
        "drain.",
    )
    lag.add_metric([], length)
    yield lag
    age = GaugeMetricFamily(
        "quaygate_usage_stream_oldest_age_seconds",
        "Age of the oldest usage-log entry waiting for the drain, by Redis's clock (0 when none is).",
    )
    oldest = 0.0
    if first:
        added_ms = int(first[0][0].split(b"-")[0])  # a stream id is <milliseconds>-<sequence>
        oldest = max(0.0, seconds + microseconds / 1e6 - added_ms / 1000)
    age.add_metric([], oldest)
    yield age


def _outbox() -> Iterator[Metric]:
    rows = (
        Notification.objects.filter(state__in=PENDING)
        .values("kind")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by()
    )
    pending = dict.fromkeys(Notification.Kind.values, 0)
    oldest = None
    for row in rows:
        pending[row["kind"]] = row["n"]
        oldest = row["oldest"] if oldest is None else min(oldest, row["oldest"])
    family = GaugeMetricFamily(
        "quaygate_outbox_pending", "Emails queued or being sent, by kind.", labels=["kind"]
    )
    for kind, count in pending.items():
        family.add_metric([kind], count)
    yield family
    age = GaugeMetricFamily(
        "quaygate_outbox_oldest_age_seconds",
        "Age of the oldest email still queued or being sent (0 when none is).",
    )
    age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
    yield age


def _snapshot() -> Iterator[Metric]:
    data, heartbeat = snapshot.read()
    tokens = GaugeMetricFamily(
        "quaygate_tokens_active",
        "Live tokens (not revoked, not expired), by kind: write holds a write scope.",
        labels=["kind"],
    )
    for kind, count in sorted(data["tokens_active"].items()):
        tokens.add_metric([kind], count)
    yield tokens
    found = {(rule, severity): n for rule, severity, n in data["anomalies"]}
    anomalies = CounterMetricFamily(
        "quaygate_anomalies",
        "Anomaly findings recorded, by rule and severity.",
        labels=["rule", "severity"],
    )
    for rule in Anomaly.Rule.values:
        for severity in Anomaly.Severity.values:
            anomalies.add_metric([rule, severity], found.get((rule, severity), 0))
    yield anomalies
    age = GaugeMetricFamily(
        "quaygate_snapshot_age_seconds", "Age of the token and finding counts above."
    )
    age.add_metric([], max(0.0, time.time() - data["computed_at"]))
    yield age
    if heartbeat is not None:
        seen = GaugeMetricFamily(
            "quaygate_worker_last_seen_timestamp_seconds",
            "When a Celery worker last ran the beat-scheduled snapshot task (Unix time).",
        )
        seen.add_metric([], heartbeat)
        yield seen
