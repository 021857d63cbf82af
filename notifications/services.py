"""The outbox's public surface: what other apps call. Each name lives in one module:

- rendering: `render_notification`, `absolute_url`, `REMINDER_KINDS`
- outbox: `queue_notification(s)`, `retry_failed_notification`, `sweep_notifications`,
  `set_expiry_reminders`
- delivery: `deliver_notification` (what the Celery task calls to send one row), its pieces
"""

from notifications.delivery import (
    Delivery,
    build_message,
    claim_notification,
    deliver_notification,
    retry_delay,
)
from notifications.outbox import (
    NotificationRequest,
    SweepResult,
    queue_notification,
    queue_notifications,
    retry_failed_notification,
    set_expiry_reminders,
    sweep_notifications,
)
from notifications.rendering import REMINDER_KINDS, RenderedEmail, absolute_url, render_notification

__all__ = [
    "REMINDER_KINDS",
    "Delivery",
    "NotificationRequest",
    "RenderedEmail",
    "SweepResult",
    "absolute_url",
    "build_message",
    "claim_notification",
    "deliver_notification",
    "queue_notification",
    "queue_notifications",
    "render_notification",
    "retry_delay",
    "retry_failed_notification",
    "set_expiry_reminders",
    "sweep_notifications",
]
