"""Run the anomaly detection pass now (what the beat task does every 5 minutes), timed."""

import time

from django.core.management.base import BaseCommand

from telemetry.detection import reset_detection, run_detection


class Command(BaseCommand):
    help = "Run the incremental anomaly detection pass once and print how long it took."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--lag-seconds",
            type=float,
            default=None,
            help="Safety lag for out-of-order commits (default: USAGE_COMMIT_LAG_SECONDS)",
        )
        parser.add_argument(
            "--full", action="store_true", help="Start from the beginning of the usage log"
        )
        parser.add_argument(
            "--forget-sightings",
            action="store_true",
            help="With --full: also relearn which countries/IPs/agents each token used",
        )

    def handle(
        self, *args, lag_seconds: float | None, full: bool, forget_sightings: bool, **options
    ) -> None:
        if full:
            reset_detection(forget_sightings=forget_sightings)
        started = time.perf_counter()
        result = run_detection(lag_seconds=lag_seconds, max_batches=10_000)
        elapsed = time.perf_counter() - started
        if result.busy:
            self.stdout.write("Another worker holds the detection lock; try again later")
        self.stdout.write(
            f"Processed up to usage id {result.rows_to_id} in {result.batches} batches: "
            f"{result.findings} findings, {len(result.created)} new, {result.revoked} revoked, "
            f"{elapsed:.2f} s"
        )
