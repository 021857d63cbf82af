"""The partner API's own rows: the first answer to each Idempotency-Key."""

from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an `Idempotency-Key`, replayed to its retries.

    One row per (token, key), kept 24 hours (api.tasks purges older ones). `status` is None
    while the first request is still running: a duplicate arriving then is refused, not run.
    Only successful answers are kept (an error changed nothing, so the key stays free). `body`
    is None when the answer must never be replayed: a rotation's new secret is not stored.
    """

    token = models.ForeignKey(
        "tokens.PersonalAccessToken", on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    # "POST /api/v1/alarms/7/acknowledge <sha256 of the body>": a retry must be the same request.
    fingerprint = models.CharField(max_length=512)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_unique_key"),
        ]
        # The purge deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} of token {self.token_id}"


class SecretScanningKey(models.Model):
    """A public key a secret scanner signs its alerts with, as the refresh task last fetched it
    (api.github_keys). Rows, not a file, so every web node sees the same keys; the configured
    keys file is read besides them."""

    scanner = models.CharField(max_length=20)
    key_identifier = models.CharField(max_length=128)
    key = models.TextField(help_text="PEM")
    is_current = models.BooleanField(default=False)
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scanner", "key_identifier"], name="secret_scanning_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scanner} key {self.key_identifier[:12]}…"
