"""A worker killed (SIGKILL, no goodbye) in the middle of its task: nothing lost, nothing doubled.

Two tasks with real side effects, each on a real Celery worker process, PostgreSQL and Redis:
- the usage drain, killed between batches or inside one: the next drain claims what the dead one
  had read and not acknowledged, and request ids make the replay insert nothing twice;
- an email send, killed while the SMTP server holds the message unanswered: the sweeper re-sends
  it once the claim times out, and it arrives exactly once.
"""

import asyncio
import os
import signal
import threading

import pytest
import redis
from django.db import connection, transaction

from notifications.models import Notification
from notifications.services import queue_notification
from notifications.tasks import sweep_outbox
from telemetry.conf import setting
from telemetry.models import UsageRecord
from telemetry.tasks import drain_usage_stream_task
from telemetry.usage import drain_usage_stream, xadd_command
from tests.conftest import require
from tests.notifications.test_delivery_end_to_end import SmtpServer
from tests.support.worker import celery_worker, wait_for
from tests.telemetry.factories import stream_record

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Enough rows that the drain is still busy when it is killed (it commits 2,000 at a time).
ROWS = 60_000


@pytest.fixture
def services_up(redis_client) -> redis.Redis:
    require(connection.vendor == "postgresql", "needs PostgreSQL shared with the worker")
    from portal.celery import app

    app.control.purge()  # tasks an earlier run left behind point at rows of another database
    return redis_client


def kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def usage_record(number: int) -> dict:
    return stream_record(
        route="api/v1/terminals",
        path=f"/api/v1/terminals?n={number}",
        ip=f"192.0.2.{number % 8 + 1}",
        user_agent="fault test",
    )


def test_a_drain_killed_mid_task_loses_nothing_and_doubles_nothing(services_up):
    client = services_up
    key, group = setting("USAGE_STREAM_KEY"), setting("USAGE_STREAM_GROUP")
    client.delete(key)
    records = [usage_record(n) for n in range(ROWS)]
    pipeline = client.pipeline(transaction=False)
    for record in records:
        pipeline.execute_command(*xadd_command([record]))  # an entry each: many reads to kill
    pipeline.execute()

    with celery_worker() as worker:
        drain_usage_stream_task.delay()

        def frozen_mid_task() -> bool:
            # Stop the worker, then look: some rows stored, some entries read and not yet
            # acknowledged. Frozen, it cannot move on between our look and the kill.
            os.kill(worker.pid, signal.SIGSTOP)
            if UsageRecord.objects.exists() and client.xpending(key, group)["pending"] > 0:
                return True
            os.kill(worker.pid, signal.SIGCONT)
            return False

        assert wait_for(frozen_mid_task, timeout=30, interval=0.005)
        kill(worker)
    stored = UsageRecord.objects.count()
    left_pending = client.xpending(key, group)["pending"]
    assert 0 < stored < ROWS, f"the worker stored {stored} of {ROWS}: not killed mid-task"
    assert left_pending > 0, "the dead worker held no entries: nothing for the claim to prove"

    # The next drain (the beat runs one every 10 s) claims at once what the dead one held.
    drain_usage_stream(claim_idle_ms=0, max_seconds=120)

    stored_ids = {
        str(i).replace("-", "") for i in UsageRecord.objects.values_list("request_id", flat=True)
    }
    assert UsageRecord.objects.count() == ROWS, f"{left_pending} were pending at the kill"
    assert stored_ids == {record["request_id"] for record in records}
    assert client.xlen(key) == 0
    assert client.xpending(key, group)["pending"] == 0


class HoldingInbox:
    """An SMTP handler that holds the first message unanswered until released, then drops it
    (the client is gone; the server never said 250), and accepts every later one."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._held_one = False
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            hold, self._held_one = not self._held_one, True
        if hold:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 Requested action aborted"
        from email import message_from_bytes

        with self._lock:
            self.message_ids.append(message_from_bytes(envelope.original_content)["Message-ID"])
        return "250 Message accepted for delivery"


def test_an_email_send_killed_mid_smtp_arrives_exactly_once(services_up, owner):
    inbox = HoldingInbox()
    smtp = SmtpServer()
    smtp.inbox = inbox  # the handler the controller is built with
    smtp.start()
    env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "0",
        "EMAIL_USE_SSL": "0",
        "EMAIL_TIMEOUT": "30",  # the worker must still be waiting for the reply when killed
        "NOTIFICATION_SENDING_TIMEOUT_SECONDS": "2",
        "NOTIFICATION_QUEUED_GRACE_SECONDS": "1",
    }
    try:
        with celery_worker(extra_env=env) as worker:
            with transaction.atomic():
                notification = queue_notification(
                    kind="token_revoked",
                    user=owner,
                    context={
                        "token_name": "Crane feed",
                        "display_prefix": "qgp_AbC1",
                        "organization": "Port of Rotterdam",
                        "token_url": "/tokens/42/",
                    },
                    dedup_key="killed-mid-send",
                )
            assert inbox.holding.wait(timeout=30), "the worker never reached the SMTP DATA step"
            kill(worker)
        inbox.release.set()
        row = Notification.objects.get(id=notification.id)
        assert row.state == Notification.State.SENDING  # claimed by the dead worker

        with celery_worker(extra_env=env):

            def sent() -> bool:
                sweep_outbox.delay()  # what the beat does every minute
                return Notification.objects.get(id=notification.id).state == "sent"

            assert wait_for(sent, timeout=40, interval=1.0)
            wait_for(lambda: len(inbox.message_ids) > 1, timeout=2)
    finally:
        inbox.release.set()
        smtp.stop()

    assert inbox.message_ids == [f"<notification-{notification.id}@127.0.0.1>"]
    assert Notification.objects.get(id=notification.id).attempts == 2
