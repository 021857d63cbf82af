"""Anomalies are acknowledged and resolved, and failed emails sent again, through services,
each change an audit event with the ops user as the actor."""

import pytest
from django.urls import reverse

from notifications.models import Notification
from telemetry.models import Anomaly
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

ANOMALIES = reverse("admin:telemetry_anomaly_changelist")
NOTIFICATIONS = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def anomaly(issue, org) -> Anomaly:
    return Anomaly.objects.create(
        rule=Anomaly.Rule.VOLUME_SPIKE,
        severity=Anomaly.Severity.MEDIUM,
        token=issue(),
        organization=org,
        window="2026-01-01T10",
        evidence={"requests": 9000, "baseline": 40},
    )


def failed_email(owner, n: int = 1) -> Notification:
    return Notification.objects.create(
        kind=Notification.Kind.TOKEN_EXPIRING,
        user=owner,
        to_email=owner.email,
        subject="Your token expires soon",
        body_text="…",
        dedup_key=f"test:{n}",
        state=Notification.State.FAILED,
        attempts=5,
        last_error="550 mailbox unavailable",
    )


def test_ops_acknowledge_an_anomaly_with_a_note(ops_client, ops, anomaly):
    response = ops_client.post(
        ANOMALIES,
        {
            "action": "acknowledge",
            "_selected_action": anomaly.pk,
            "index": 0,
            "_confirm": "yes",
            "reason": "Partner confirms a backfill job",
        },
    )
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.state == Anomaly.State.ACKNOWLEDGED
    event = AuditEvent.objects.get(action=AuditEvent.Action.ANOMALY_UPDATED)
    assert event.actor_kind == AuditEvent.ActorKind.OPS
    assert event.actor_user == ops
    assert event.details["note"] == "Partner confirms a backfill job"
    assert event.details["to"] == Anomaly.State.ACKNOWLEDGED


def test_ops_resolve_an_anomaly_from_its_page(ops_client, ops, anomaly):
    url = reverse("admin:telemetry_anomaly_change", args=[anomaly.pk])
    page = ops_client.get(url)
    assert b"Resolve" in page.content
    assert b"9000" in page.content  # the evidence is shown
    assert reverse("admin:tokens_personalaccesstoken_change", args=[anomaly.token_id]).encode() in (
        page.content
    )
    response = ops_client.post(
        url,
        {
            "CHANGE_FORM-action": "resolve",
            "_selected_action": anomaly.pk,
            "index": 0,
            "_confirm": "yes",
            "reason": "",
        },
    )
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.state == Anomaly.State.RESOLVED
    assert AuditEvent.objects.get(action=AuditEvent.Action.ANOMALY_UPDATED).actor_user == ops


def test_an_anomalys_fields_cannot_be_edited(ops_client, anomaly):
    url = reverse("admin:telemetry_anomaly_change", args=[anomaly.pk])
    response = ops_client.post(url, {"state": "resolved", "severity": "low", "_save": "Save"})
    assert response.status_code == 403
    anomaly.refresh_from_db()
    assert (anomaly.state, anomaly.severity) == (Anomaly.State.OPEN, Anomaly.Severity.MEDIUM)


def test_ops_send_a_failed_email_again_and_it_is_audited(
    ops_client, ops, owner, django_capture_on_commit_callbacks
):
    email = failed_email(owner)
    sent = failed_email(owner, 2)
    Notification.objects.filter(pk=sent.pk).update(state=Notification.State.SENT)

    with django_capture_on_commit_callbacks() as sends:
        response = ops_client.post(
            NOTIFICATIONS,
            {"action": "retry", "_selected_action": [email.pk, sent.pk], "index": 0},
        )

    assert response.status_code == 302
    email.refresh_from_db()
    assert email.state == Notification.State.QUEUED
    assert email.attempts == 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.NOTIFICATION_RETRIED)
    assert event.actor_kind == AuditEvent.ActorKind.OPS
    assert event.actor_user == ops
    assert event.details["notification_id"] == email.pk
    assert event.details["last_error"] == "550 mailbox unavailable"
    # Only the failed one: a sent email is not sent again, and not audited.
    assert AuditEvent.objects.filter(action=AuditEvent.Action.NOTIFICATION_RETRIED).count() == 1
    assert Notification.objects.get(pk=sent.pk).state == Notification.State.SENT
    assert len(sends) == 1  # the send task, enqueued once the retry commits


def test_the_notification_list_shows_state_attempts_and_last_error(ops_client, owner):
    failed_email(owner)
    page = ops_client.get(NOTIFICATIONS)
    assert b"550 mailbox unavailable" in page.content
    assert b"Failed" in page.content


def test_staff_outside_the_ops_group_cannot_resolve_or_retry(ops_user, anomaly, owner):
    from django.test import Client

    client = Client()
    client.force_login(ops_user)
    email = failed_email(owner)
    client.post(
        ANOMALIES,
        {"action": "resolve", "_selected_action": anomaly.pk, "index": 0, "_confirm": "yes"},
    )
    client.post(NOTIFICATIONS, {"action": "retry", "_selected_action": email.pk, "index": 0})
    anomaly.refresh_from_db()
    email.refresh_from_db()
    assert anomaly.state == Anomaly.State.OPEN
    assert email.state == Notification.State.FAILED
    assert not AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.ANOMALY_UPDATED, AuditEvent.Action.NOTIFICATION_RETRIED]
    ).exists()
