"""Celery tasks: load by id, call one service. Retries are scheduled here, counted in the row."""

import logging

from celery import shared_task

from notifications import services

# tasks.py is an edge: it may reach into tokens, which notifications.services may not.
from tokens import expiry

logger = logging.getLogger(__name__)


@shared_task(name="notifications.send_notification", ignore_result=True)
def send_notification(notification_id: int) -> str:
    delivery = services.deliver_notification(notification_id)
    if delivery.retry_in is not None:
        try:
            send_notification.apply_async((notification_id,), countdown=delivery.retry_in)
        except Exception:
            # The broker is down too: the row is queued with next_attempt_at, the sweeper
            # sends it when things are back.
            logger.exception("could not schedule retry of notification %s", notification_id)
    return delivery.outcome


@shared_task(name="notifications.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    return len(services.sweep_notifications().requeued)


@shared_task(name="notifications.send_expiry_notices", ignore_result=True)
def send_expiry_notices() -> int:
    return expiry.send_expiry_notices()
