"""Celery tasks of webhooks: take ids, call one service. send_delivery lives beside the sender
(webhooks.delivery, as notifications does) and is named here for autodiscovery."""

from celery import shared_task

from webhooks.delivery import send_delivery, sweep
from webhooks.events import purge_old_events as _purge
from webhooks.expiring import emit_expiring_tokens as _emit_expiring

__all__ = ["emit_expiring_tokens", "purge_old_events", "send_delivery", "sweep_deliveries"]


@shared_task(name="webhooks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> int:
    return len(sweep())


@shared_task(name="webhooks.emit_expiring_tokens", ignore_result=True)
def emit_expiring_tokens() -> int:
    return _emit_expiring()


@shared_task(name="webhooks.purge_old_events", ignore_result=True)
def purge_old_events() -> int:
    return _purge()
