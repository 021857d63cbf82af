"""Celery tasks for the API: each calls one service. Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from api import idempotency


@shared_task(name="api.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records_task() -> int:
    return idempotency.purge_expired_records()
