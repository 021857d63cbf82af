"""Ops revoke tokens from admin: always with a reason, always through revoke_token."""

import pytest
from django.urls import reverse

from notifications.models import Notification
from telemetry.models import Anomaly
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tokens_personalaccesstoken_changelist")


def revoke_post(*tokens, reason=None, **extra) -> dict:
    data = {"action": "revoke_selected", "_selected_action": [t.pk for t in tokens], "index": 0}
    if reason is not None:
        data |= {"_confirm": "yes", "reason": reason}
    return data | extra


def test_revoke_action_asks_for_a_reason_first(ops_client, issue):
    token = issue()
    response = ops_client.post(CHANGELIST, revoke_post(token))
    assert response.status_code == 200
    assert b'name="reason"' in response.content
    assert token.name.encode() in response.content
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED).exists()


def test_ops_user_revokes_with_a_reason_audit_and_email_follow(ops_client, ops, owner, issue):
    token = issue()
    other = issue(name="nightly sync")

    response = ops_client.post(
        CHANGELIST, revoke_post(token, other, reason="Leaked in a public repository")
    )

    assert response.status_code == 302
    for revoked in (token, other):
        revoked.refresh_from_db()
        assert revoked.revoked_at is not None
        assert revoked.revoked_by == ops
        assert revoked.revoked_by_kind == PersonalAccessToken.RevokedBy.OPS
        assert revoked.revocation_reason == "Leaked in a public repository"
        event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED, token=revoked)
        assert event.actor_kind == AuditEvent.ActorKind.OPS
        assert event.actor_user == ops
        assert event.actor_label == ops.email
        assert event.ip == "127.0.0.1"
        assert event.user_agent == "ops-browser/1.0"
        assert event.details["reason"] == "Leaked in a public repository"
        email = Notification.objects.get(dedup_key=f"token_revoked:{revoked.pk}")
        assert email.kind == Notification.Kind.TOKEN_REVOKED
        assert email.to_email == owner.email
        assert "Leaked in a public repository" in email.body_text


def test_an_empty_reason_is_refused_and_nothing_is_revoked(ops_client, issue):
    token = issue()
    response = ops_client.post(CHANGELIST, revoke_post(token, reason="   "))
    assert response.status_code == 200
    assert b"This field is required" in response.content
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not Notification.objects.filter(kind=Notification.Kind.TOKEN_REVOKED).exists()


def test_revoking_from_the_token_page_uses_the_same_reason_page(ops_client, ops, issue):
    token = issue()
    url = reverse("admin:tokens_personalaccesstoken_change", args=[token.pk])
    page = ops_client.get(url)
    assert b"Revoke this token" in page.content
    first = {"CHANGE_FORM-action": "revoke_selected", "_selected_action": token.pk, "index": 0}

    asked = ops_client.post(url, first)
    assert asked.status_code == 200
    assert b'name="reason"' in asked.content

    done = ops_client.post(url, first | {"_confirm": "yes", "reason": "Owner left the company"})
    assert done.status_code == 302
    token.refresh_from_db()
    assert token.revocation_reason == "Owner left the company"
    assert token.revoked_by == ops


def test_revoking_a_revoked_token_writes_nothing(ops_client, issue):
    token = issue()
    ops_client.post(CHANGELIST, revoke_post(token, reason="first"))
    ops_client.post(CHANGELIST, revoke_post(token, reason="second"))
    token.refresh_from_db()
    assert token.revocation_reason == "first"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED).count() == 1


def test_revoking_more_tokens_than_the_limit_at_once_is_refused(ops_client, issue, monkeypatch):
    monkeypatch.setattr("portal.admin.revoking.MAX_REVOKE_AT_ONCE", 2)
    tokens = [issue(name=f"t{n}") for n in range(3)]
    response = ops_client.post(
        CHANGELIST, revoke_post(tokens[0], reason="incident") | {"select_across": 1}, follow=True
    )
    assert b"More than 2 tokens selected" in response.content
    assert not PersonalAccessToken.objects.filter(
        pk__in=[t.pk for t in tokens], revoked_at__isnull=False
    ).exists()


def test_the_tokens_of_selected_anomalies_can_be_revoked(ops_client, ops, org, issue):
    token = issue()
    anomaly = Anomaly.objects.create(
        rule=Anomaly.Rule.NEW_COUNTRY,
        severity=Anomaly.Severity.HIGH,
        token=token,
        organization=org,
        window="2026-01-01",
    )
    url = reverse("admin:telemetry_anomaly_changelist")
    response = ops_client.post(
        url,
        {
            "action": "revoke_token",
            "_selected_action": anomaly.pk,
            "_confirm": "yes",
            "reason": "Used from a country the partner never works in",
        },
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == ops
    assert token.revocation_reason == "Used from a country the partner never works in"


def test_staff_outside_the_ops_group_cannot_revoke(ops_user, issue):
    from django.test import Client

    client = Client()
    client.force_login(ops_user)  # staff, but not in the Ops group
    token = issue()
    response = client.post(CHANGELIST, revoke_post(token, reason="nope"))
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
