"""The purge of idempotency records: those older than 24 hours go, in batches, from the task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api import idempotency
from api.models import IdempotencyRecord
from api.tasks import purge_idempotency_records_task

pytestmark = pytest.mark.django_db


def test_the_purge_task_deletes_records_older_than_24_hours(fleet, issued):
    now = timezone.now()
    for hours, key in [(25, "old"), (24.1, "older than a day"), (23, "recent"), (0, "new")]:
        IdempotencyRecord.objects.create(
            token_id=issued.token.id,
            key=key,
            fingerprint="POST /x",
            status=200,
            created_at=now - timedelta(hours=hours),
        )

    deleted = purge_idempotency_records_task.delay().get()

    assert deleted == 2
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"recent", "new"}


def test_the_purge_works_in_batches(fleet, issued):
    old = timezone.now() - timedelta(days=2)
    IdempotencyRecord.objects.bulk_create(
        IdempotencyRecord(token_id=issued.token.id, key=f"k{i}", fingerprint="f", created_at=old)
        for i in range(7)
    )

    assert idempotency.purge_expired_records(batch_size=3) == 7
    assert not IdempotencyRecord.objects.exists()
