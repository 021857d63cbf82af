"""Celery tasks: each calls one service. Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from observability import snapshot


@shared_task(name="observability.refresh_snapshot", ignore_result=True)
def refresh_snapshot_task() -> None:
    snapshot.refresh()
