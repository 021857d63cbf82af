"""Celery tasks: each calls one service. Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from telemetry.detection import run_detection
from telemetry.partitions import ensure_ahead
from telemetry.rollups import purge_old_usage
from telemetry.usage import drain_usage_stream


@shared_task(name="telemetry.drain_usage_stream", ignore_result=True)
def drain_usage_stream_task() -> int:
    result = drain_usage_stream()
    return result.read + result.claimed


@shared_task(name="telemetry.detect_anomalies", ignore_result=True)
def detect_anomalies_task() -> int:
    # Drain first, so this pass sees what the API served up to now (no-op without Redis).
    drain_usage_stream()
    return len(run_detection().created)


@shared_task(name="telemetry.purge_old_usage", ignore_result=True)
def purge_old_usage_task() -> int:
    return purge_old_usage()


@shared_task(name="telemetry.create_usage_partitions", ignore_result=True)
def create_usage_partitions_task() -> int:
    return len(ensure_ahead())
