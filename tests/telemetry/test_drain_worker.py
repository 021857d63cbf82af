"""End to end: usage records land in the Redis Stream and a real worker drains them."""

import pytest
from django.db import connection

from telemetry.conf import setting
from telemetry.models import UsageRecord
from telemetry.tasks import drain_usage_stream_task
from tests.conftest import require
from tests.support.worker import celery_worker, wait_for
from tests.telemetry.test_stream_drain import log, record


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_drains_the_stream_into_postgresql(redis_client):
    require(connection.vendor == "postgresql", "needs PostgreSQL shared with the worker")
    client = redis_client
    key = setting("USAGE_STREAM_KEY")  # the worker's default: this test owns its Redis db
    client.delete(key)
    for _ in range(20):
        assert log(record()) == "stream"

    with celery_worker():
        drain_usage_stream_task.delay()
        assert wait_for(lambda: UsageRecord.objects.count() == 20, timeout=30)
    assert client.xlen(key) == 0
