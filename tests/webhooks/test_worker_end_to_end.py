"""A real Celery worker, PostgreSQL, Redis and a real receiver on loopback.

- The receiver is down for a while, then up: every event arrives exactly once per id at the
  deduplicating receiver, each after visible retries.
- The worker is SIGKILLed while the receiver holds its request unanswered: the lease runs out,
  the sweeper (what beat runs every 30 s) gives the delivery to the restarted worker, and it is
  delivered; the receiver saw it twice and accepted it once (at least once, deduplicated by id).
"""

import os
import signal

import pytest
from django.db import connection, transaction

from tests.conftest import require
from tests.support.receiver import Receiver, free_port, wait_until
from tests.support.worker import celery_worker, wait_for
from tokens.actors import Actor
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tasks import sweep_deliveries

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services_up(redis_client):
    require(connection.vendor == "postgresql", "needs PostgreSQL shared with the worker")
    from portal.celery import app

    app.control.purge()  # tasks an earlier run left behind point at rows of another database
    return redis_client


def test_a_receiver_down_then_up_gets_every_event_exactly_once(services_up, org, make_endpoint):
    port = free_port()
    endpoint, secret = make_endpoint(org, f"http://127.0.0.1:{port}/hook", ["token.revoked"])
    env = {"WEBHOOK_RETRY_BASE_SECONDS": "1", "WEBHOOK_RETRY_MAX_SECONDS": "2"}
    with celery_worker(extra_env=env):
        event_ids = []
        for _ in range(5):
            with transaction.atomic():
                delivery = services.send_test_event(endpoint, actor=Actor.system())
            event_ids.append(delivery.event.public_id)
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)

        def all_retried() -> bool:
            return all(d.attempts >= 2 for d in deliveries.all())

        assert wait_for(all_retried, timeout=40, interval=0.3), list(deliveries.values())
        assert set(deliveries.values_list("state", flat=True)) <= {"pending", "sending"}
        with Receiver(secret=secret, port=port) as receiver:
            delivered = lambda: deliveries.filter(state="delivered").count() == 5  # noqa: E731
            assert wait_for(delivered, timeout=40, interval=0.3), list(deliveries.values())
            wait_until(lambda: False, timeout=1.5)  # any late duplicate would arrive now
    assert receiver.accepted == {event_id: 1 for event_id in event_ids}
    assert all(request["verified"] for request in receiver.requests)
    assert all(d.attempts >= 2 and d.response_status == 204 for d in deliveries.all())


def test_a_worker_killed_mid_delivery_delivers_after_restart(services_up, org, make_endpoint):
    receiver = Receiver(mode="hold-first").start()
    try:
        endpoint, receiver.secret = make_endpoint(org, receiver.url, ["token.revoked"])
        env = {"WEBHOOK_TIMEOUT_SECONDS": "30", "WEBHOOK_LEASE_SECONDS": "3"}
        with celery_worker(extra_env=env) as worker:
            with transaction.atomic():
                delivery = services.send_test_event(endpoint, actor=Actor.system())
            assert receiver.holding.wait(timeout=30), "the worker never reached the receiver"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        receiver.release.set()
        delivery.refresh_from_db()
        assert delivery.state == "sending" and delivery.attempts == 1  # the dead worker's claim

        with celery_worker(extra_env=env):

            def delivered() -> bool:
                sweep_deliveries.delay()  # what beat does every 30 s
                return WebhookDelivery.objects.get(id=delivery.id).state == "delivered"

            assert wait_for(delivered, timeout=40, interval=1.0)
    finally:
        receiver.stop()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert len(receiver.requests) == 2  # at least once: the held request, then the re-send
    assert receiver.accepted == {delivery.event.public_id: 1}
    assert {r["headers"]["Quaygate-Delivery"] for r in receiver.requests} == {str(delivery.uuid)}
