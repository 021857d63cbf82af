from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from notifications.models import Notification
from tokens.models import PersonalAccessToken

from .test_send_notification import make_notification


def test_the_expiry_command_queues_due_notices_and_says_how_many(owner, org):
    PersonalAccessToken.objects.create(
        owner=owner,
        organization=org,
        name="Crane feed",
        display_prefix="qgp_AbC1",
        created_at=timezone.now() - timedelta(days=60),
        expires_at=timezone.now() + timedelta(days=6, hours=12),
    )
    out = StringIO()

    call_command("send_expiry_notices", stdout=out)

    assert out.getvalue().startswith("Queued 1 expiry notices in ")
    assert Notification.objects.get().kind == Notification.Kind.TOKEN_EXPIRING


def test_the_expiry_command_refuses_a_batch_size_of_zero(db):
    with pytest.raises(SystemExit):
        call_command("send_expiry_notices", "--batch-size=0", stderr=StringIO())


def test_the_sweep_command_reports_what_it_re_enqueued(owner):
    make_notification(owner, created_at=timezone.now() - timedelta(hours=1))
    out = StringIO()

    call_command("sweep_outbox", stdout=out)

    assert out.getvalue().strip() == "Re-enqueued 1 notifications; marked 0 failed"
