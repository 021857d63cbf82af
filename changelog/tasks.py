"""Celery: the announcement's fan-out. The task is defined in changelog.services (beside
send_announcement, which it calls); importing it here registers it when Celery autodiscovers
this module."""

from changelog.services import send_announcement_task

__all__ = ["send_announcement_task"]
