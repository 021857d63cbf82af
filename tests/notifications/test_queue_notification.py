import pytest
from django.core import mail
from django.db import transaction

from notifications.models import Notification
from notifications.services import queue_notification, set_expiry_reminders

CONTEXT = {
    "token_name": "CI deploy",
    "display_prefix": "qgp_AbC1",
    "organization": "Port of Rotterdam",
    "actor_label": "owner@rotterdam.example",
    "ip": "203.0.113.9",
    "token_url": "/tokens/42/",
}


def queue(user, dedup_key="token_created:42", kind="token_created", **context):
    return queue_notification(kind=kind, user=user, context=CONTEXT | context, dedup_key=dedup_key)


def test_it_writes_a_queued_row_with_the_rendered_email(owner):
    notification = queue(owner)

    assert notification.state == Notification.State.QUEUED
    assert notification.to_email == owner.email
    assert notification.user == owner
    assert "CI deploy" in notification.subject
    assert "qgp_AbC1" in notification.body_text
    assert "<strong>CI deploy</strong>" in notification.body_html


def test_it_sends_the_email_once_the_callers_transaction_commits(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = queue(owner)
    assert mail.outbox == []
    assert len(callbacks) == 1

    callbacks[0]()

    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    assert notification.attempts == 1


def test_it_sends_nothing_when_the_callers_transaction_rolls_back(
    owner, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        queue(owner)
        raise RuntimeError("the caller failed after queueing")

    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_second_notification_with_the_same_dedup_key_is_not_written(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = queue(
            owner, dedup_key="token_expiring:42:7:2026-12-01", kind="token_expiring", days=7
        )
        second = queue(
            owner, dedup_key="token_expiring:42:7:2026-12-01", kind="token_expiring", days=7
        )

    assert first is not None
    assert second is None
    assert Notification.objects.count() == 1
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1


def test_a_duplicate_written_concurrently_leaves_the_callers_transaction_usable(owner, monkeypatch):
    """The race: another process inserts the key between our check and our insert."""
    queue(owner, dedup_key="race")
    with transaction.atomic():
        # Our existence check ran before the other process committed its row.
        monkeypatch.setattr(
            "notifications.outbox.Notification.objects.filter",
            _first_call_says_absent(Notification.objects.filter),
        )
        assert queue(owner, dedup_key="race") is None
        # The transaction is still usable after the failed insert.
        assert Notification.objects.count() == 1


def _first_call_says_absent(real_filter):
    calls = {"n": 0}

    class Absent:
        def exists(self) -> bool:
            return False

    def fake(*args, **kwargs):
        calls["n"] += 1
        return Absent() if calls["n"] == 1 else real_filter(*args, **kwargs)

    return fake


def test_an_explicit_address_overrides_the_users(owner):
    notification = queue_notification(
        kind="token_created",
        user=owner,
        context=CONTEXT,
        dedup_key="k",
        to_email="security@rotterdam.example",
    )
    assert notification.to_email == "security@rotterdam.example"


def test_something_that_looks_like_a_whole_token_is_redacted_from_every_part(owner):
    secret = "qgp_AbC1dEf2GhI3jKl4MnO5pQr6StU7vW8xYz9AbC"

    notification = queue(owner, token_name=f"my {secret}", reason=f"pasted {secret} here")

    for part in (notification.subject, notification.body_text, notification.body_html):
        assert secret not in part
        assert "qgp_[redacted]" in part
    assert "qgp_AbC1…" in notification.body_text  # the display prefix is not a secret


def test_an_unknown_kind_is_refused(owner):
    with pytest.raises(ValueError):
        queue(owner, kind="birthday_greeting")


def test_queueing_costs_four_queries_and_a_duplicate_one(owner, django_assert_num_queries):
    # exists, savepoint, insert, release: this runs inside token creation and revocation.
    with django_assert_num_queries(4):
        queue(owner, dedup_key="counted")
    with django_assert_num_queries(1):
        queue(owner, dedup_key="counted")


def test_a_notice_can_go_to_an_address_without_an_account(db):
    notification = queue_notification(
        kind="token_leaked",
        user=None,
        context=CONTEXT,
        dedup_key="leak:42",
        to_email="security@rotterdam.example",
    )
    assert notification.user is None
    assert notification.body_text.startswith("Hello,\n")


def test_a_notice_needs_somewhere_to_go(db):
    with pytest.raises(ValueError):
        queue_notification(kind="token_leaked", user=None, context=CONTEXT, dedup_key="k")


def test_expiry_reminders_can_be_turned_off_and_on(owner):
    set_expiry_reminders(owner, enabled=False)
    owner.refresh_from_db()
    assert owner.wants_expiry_reminders is False

    set_expiry_reminders(owner, enabled=True)
    owner.refresh_from_db()
    assert owner.wants_expiry_reminders is True
