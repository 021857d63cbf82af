"""A real Celery worker process, Redis as the broker and a real SMTP server on loopback.

The worker is a separate process on the test database; it reaches the SMTP server that runs in
this process (aiosmtpd) through EMAIL_HOST/EMAIL_PORT, with the retry backoff shortened so an
outage test fits in seconds.
"""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.services import queue_notification
from notifications.tasks import send_notification, sweep_outbox
from tests.support.smtp import SmtpServer, mailing_worker
from tests.support.worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTEXT = {
    "token_name": "Crane feed",
    "display_prefix": "qgp_AbC1",
    "organization": "Port of Rotterdam",
    "token_url": "/tokens/42/",
}


@pytest.fixture
def worker(smtp: SmtpServer, redis_client) -> Iterator[None]:
    """The shared mailing worker, with the retry backoff shortened so an outage fits in
    seconds."""
    env = {
        "NOTIFICATION_RETRY_BASE_SECONDS": "1",
        "NOTIFICATION_RETRY_MAX_SECONDS": "2",
        "NOTIFICATION_MAX_ATTEMPTS": "20",
        "NOTIFICATION_SENDING_TIMEOUT_SECONDS": "60",
        "NOTIFICATION_QUEUED_GRACE_SECONDS": "1",
    }
    with mailing_worker(smtp, env):
        yield


def queue_three(owner, member, org_admin) -> list[Notification]:
    with transaction.atomic():
        return [
            queue_notification(
                kind="token_revoked", user=user, context=CONTEXT, dedup_key=f"revoked:42:{user.id}"
            )
            for user in (owner, member, org_admin)
        ]


def all_sent(notifications: list[Notification]) -> bool:
    ids = [n.id for n in notifications]
    return Notification.objects.filter(id__in=ids, state=Notification.State.SENT).count() == len(
        ids
    )


def expected_ids(notifications: list[Notification]) -> list[str]:
    return sorted(f"<notification-{n.id}@127.0.0.1>" for n in notifications)


def test_each_notification_arrives_exactly_once_even_when_its_task_runs_three_times(
    worker, smtp, owner, member, org_admin
):
    notifications = queue_three(owner, member, org_admin)
    for notification in notifications:  # a redelivered message, a retry racing the sweeper
        send_notification.delay(notification.id)
        send_notification.delay(notification.id)

    assert wait_for(lambda: all_sent(notifications), timeout=20)
    assert wait_for(lambda: len(smtp.inbox.messages) >= 3, timeout=5)
    wait_for(lambda: len(smtp.inbox.messages) > 3, timeout=1.5)  # give a duplicate time to show

    assert sorted(smtp.inbox.message_ids()) == expected_ids(notifications)
    recipients = sorted(message["To"] for message in smtp.inbox.messages)
    assert recipients == sorted(user.email for user in (owner, member, org_admin))
    message = smtp.inbox.messages[0]
    assert message["Subject"] == "Your Quaygate token Crane feed was revoked"
    assert message.is_multipart()
    assert [part.get_content_type() for part in message.walk()][1:] == [
        "text/plain",
        "text/html",
    ]
    assert all(n.attempts == 1 for n in Notification.objects.all())


def test_every_message_is_delivered_exactly_once_after_an_smtp_outage(
    worker, smtp, owner, member, org_admin
):
    smtp.stop()
    notifications = queue_three(owner, member, org_admin)

    def all_retrying() -> bool:
        rows = Notification.objects.filter(id__in=[n.id for n in notifications])
        return all(row.attempts >= 2 and "Connection refused" in row.last_error for row in rows)

    assert wait_for(all_retrying, timeout=15), "sends fail and are retried while SMTP is down"
    assert not Notification.objects.filter(state=Notification.State.SENT).exists()
    retrying = Notification.objects.get(id=notifications[0].id)
    assert retrying.state in (Notification.State.QUEUED, Notification.State.SENDING)

    smtp.start()

    assert wait_for(lambda: all_sent(notifications), timeout=20)
    wait_for(lambda: len(smtp.inbox.messages) > 3, timeout=1.5)
    assert sorted(smtp.inbox.message_ids()) == expected_ids(notifications)
    assert all(n.attempts >= 2 and n.last_error == "" for n in Notification.objects.all())


def test_the_sweeper_delivers_what_a_dead_worker_and_a_lost_task_left_behind(worker, smtp, owner):
    long_ago = timezone.now() - timedelta(minutes=10)
    common = {"user": owner, "to_email": owner.email, "body_text": "text", "body_html": ""}
    # Its worker died between the claim and the send: stuck in `sending`.
    stuck = Notification.objects.create(
        kind="token_created",
        subject="stuck",
        dedup_key="stuck",
        state=Notification.State.SENDING,
        claimed_at=long_ago,
        attempts=1,
        **common,
    )
    # Committed, but its task never reached the broker.
    lost = Notification.objects.create(
        kind="token_created", subject="lost", dedup_key="lost", created_at=long_ago, **common
    )

    sweep_outbox.delay()
    sweep_outbox.delay()  # two beat ticks close together

    assert wait_for(lambda: all_sent([stuck, lost]), timeout=20)
    wait_for(lambda: len(smtp.inbox.messages) > 2, timeout=1.5)
    assert sorted(smtp.inbox.message_ids()) == expected_ids([stuck, lost])
