"""Celery tasks for the API: each calls one service. Scheduled in settings.CELERY_BEAT_SCHEDULE."""

import logging

from celery import shared_task
from django.conf import settings

from api import github_keys, idempotency

logger = logging.getLogger(__name__)


@shared_task(name="api.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records_task() -> int:
    return idempotency.purge_expired_records()


@shared_task(name="api.refresh_secret_scanning_keys", ignore_result=True)
def refresh_secret_scanning_keys_task() -> int:
    """GitHub's secret-scanning keys, re-fetched when a URL is configured (a no-op otherwise).
    A failed fetch keeps the stored keys; the next hourly run tries again."""
    if not settings.QUAYGATE.get("SECRET_SCANNING_GITHUB_KEYS_URL"):
        return 0
    try:
        return github_keys.refresh_github_keys()
    except (OSError, github_keys.KeySetError) as error:
        logger.warning("GitHub secret-scanning keys not refreshed: %s", error)
        return 0
