"""Celery: the announcement's fan-out (changelog.services.send_announcement)."""

from celery import shared_task

from changelog import services
from changelog.models import Announcement


@shared_task(
    name="changelog.send_announcement",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def send_announcement_task(announcement_id: int) -> int:
    """Safe to retry: every email's dedup key is the announcement and the inbox."""
    announcement = Announcement.objects.filter(pk=announcement_id).first()
    if announcement is None:
        return 0
    return services.send_announcement(announcement).recipients
