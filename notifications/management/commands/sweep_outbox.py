"""Re-send what the outbox sweeper would (rows stuck in sending, tasks the broker lost)."""

from django.core.management.base import BaseCommand

from notifications.services import sweep_notifications


class Command(BaseCommand):
    help = "Re-enqueue notifications stuck in queued/sending, as the beat task does every minute."

    def handle(self, *args, **options) -> None:
        result = sweep_notifications()
        self.stdout.write(
            f"Re-enqueued {len(result.requeued)} notifications; marked {result.failed} failed"
        )
