"""Run the expiry-notice scan now (what the beat task does every hour), timed."""

import time

from django.core.management.base import BaseCommand

from tokens.expiry import send_expiry_notices


class Command(BaseCommand):
    help = "Queue due token expiry warnings (30/7/1 days) and expired notices, and say how long it took."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options) -> None:
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            raise SystemExit(2)
        started = time.perf_counter()
        queued = send_expiry_notices(batch_size=batch_size)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"Queued {queued} expiry notices in {elapsed:.2f} s")
