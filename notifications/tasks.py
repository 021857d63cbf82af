"""Celery tasks: load by id, call one service. Retries are scheduled in the task, counted in the row.

`send_notification` is defined in notifications.delivery (see why there) and named here so
autodiscovery registers it with the rest.
"""

from celery import shared_task

from notifications.delivery import send_notification
from notifications.outbox import sweep_notifications

__all__ = ["send_notification", "sweep_outbox"]


@shared_task(name="notifications.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    return len(sweep_notifications().requeued)
