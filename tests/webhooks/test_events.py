"""Events are written with what they report: one delivery row per subscribed endpoint, in the
same transaction as the audit event (rolled back with it), and never a secret in the payload."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.redaction import contains_secret
from tests.conftest import make_org
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import AuditEvent
from tokens.services.audit import record_audit_event
from webhooks.delivery import payload
from webhooks.expiring import emit_expiring_tokens
from webhooks.models import WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


def issue(owner, org, name="crane feed", **kwargs):
    return token_services.issue_token(
        owner=owner,
        organization=org,
        name=name,
        scopes=["fleet:read"],
        actor=Actor.for_user(owner),
        **kwargs,
    )


def types_of(endpoint) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .order_by("id")
        .values_list("event__type", flat=True)
    )


def test_a_revoked_token_becomes_an_event_with_a_delivery(owner, org, make_endpoint):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook", ["token.revoked"])
    issued = issue(owner, org)
    token_services.revoke_token(issued.token, actor=Actor.for_user(owner), reason="done")
    assert types_of(endpoint) == ["token.revoked"]
    event = WebhookEvent.objects.get(type="token.revoked")
    assert event.data["token"] == {"id": issued.token.id, "prefix": issued.token.display_prefix}
    assert event.data["details"]["reason"] == "done"


def test_the_payload_never_carries_the_secret(owner, org, make_endpoint):
    make_endpoint(org, "http://127.0.0.1:9/hook", ["audit.*"])
    issued = issue(owner, org)
    regenerated = token_services.regenerate_token(issued.token, actor=Actor.for_user(owner))
    events = WebhookEvent.objects.select_related("organization")
    assert {e.type for e in events} >= {"token.created", "token.regenerated"}
    for event in events:
        body = payload(event).decode()
        assert issued.secret not in body and regenerated.secret not in body
        assert not contains_secret(body)
        document = json.loads(body)
        assert set(document) == {"id", "type", "created", "organization", "data"}
        assert document["organization"]["slug"] == org.slug


def test_the_event_is_rolled_back_with_the_audit_event(owner, org, make_endpoint):
    make_endpoint(org, "http://127.0.0.1:9/hook", ["audit.*"])
    before = WebhookDelivery.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        record_audit_event(
            action=AuditEvent.Action.POLICY_CHANGED, actor=Actor.system(), organization=org
        )
        assert WebhookDelivery.objects.count() == before + 1
        raise RuntimeError("the caller fails")
    assert WebhookDelivery.objects.count() == before


def test_endpoints_get_only_what_they_subscribe_to(owner, org, make_endpoint):
    revoked_only, _ = make_endpoint(org, "http://127.0.0.1:9/a", ["token.revoked"])
    members, _ = make_endpoint(org, "http://127.0.0.1:9/b", ["member.*"])
    issued = issue(owner, org)
    record_audit_event(
        action=AuditEvent.Action.MEMBER_JOINED, actor=Actor.system(), organization=org
    )
    token_services.revoke_token(issued.token, actor=Actor.for_user(owner))
    assert types_of(revoked_only) == ["token.revoked"]
    assert types_of(members) == ["member.joined"]


def test_another_organisation_or_a_disabled_endpoint_gets_nothing(owner, org, make_endpoint):
    other, _ = make_endpoint(make_org("Port of Hamburg"), "http://127.0.0.1:9/x")
    disabled, _ = make_endpoint(org, "http://127.0.0.1:9/y")
    from webhooks.disabling import disable_endpoint

    disable_endpoint(disabled, reason="test")
    before = (types_of(other), types_of(disabled))
    issue(owner, org)
    assert (types_of(other), types_of(disabled)) == before


def test_an_organisation_without_webhooks_writes_no_event(owner, org):
    issue(owner, org)
    assert not WebhookEvent.objects.exists()


def test_the_bulk_expiry_path_announces_its_events(owner, org, make_endpoint, time_machine):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook", ["token.expired"])
    issue(owner, org, "one", expires_at=timezone.now() + timedelta(days=2))
    issue(owner, org, "two", expires_at=timezone.now() + timedelta(days=2))
    time_machine.move_to(timezone.now() + timedelta(days=3))
    assert token_services.expire_due_tokens() == 2
    assert types_of(endpoint) == ["token.expired", "token.expired"]


def test_a_leak_report_is_token_leaked(owner, org, make_endpoint):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook", ["token.leaked"])
    issued = issue(owner, org)
    token_services.record_token_in_url(
        issued.secret, ip="192.0.2.1", user_agent="x", path="/api/v1/"
    )
    assert types_of(endpoint) == ["token.leaked"]


def test_expiry_warnings_are_sent_once_per_token_and_warning(owner, org, make_endpoint):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook", ["token.expiring"])
    issued = issue(owner, org, expires_at=timezone.now() + timedelta(days=90))
    with_one_week = timezone.now() + timedelta(days=90) - timedelta(days=6, hours=23)
    assert emit_expiring_tokens(now=with_one_week) == 1
    assert emit_expiring_tokens(now=with_one_week) == 0  # the scan runs hourly
    event = WebhookEvent.objects.get(type="token.expiring")
    assert event.data["warning_days"] == 7
    assert event.data["token"]["id"] == issued.token.id
    assert types_of(endpoint) == ["token.expiring"]


def test_an_anomaly_is_anomaly_detected(owner, org, make_endpoint):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook", ["anomaly.detected"])
    record_audit_event(
        action=AuditEvent.Action.ANOMALY_FOUND,
        actor=Actor.system("anomaly detection"),
        organization=org,
        details={"rule": "burst", "severity": "high"},
    )
    assert types_of(endpoint) == ["anomaly.detected"]


def test_old_events_are_purged_once_their_deliveries_are_done(org, make_endpoint, time_machine):
    from webhooks.events import purge_old_events

    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook", ["audit.*"])
    record_audit_event(
        action=AuditEvent.Action.POLICY_CHANGED, actor=Actor.system(), organization=org
    )
    WebhookDelivery.objects.filter(endpoint=endpoint).update(state="delivered")
    record_audit_event(
        action=AuditEvent.Action.POLICY_CHANGED, actor=Actor.system(), organization=org
    )
    time_machine.move_to(timezone.now() + timedelta(days=31))
    assert purge_old_events() == 1  # the delivered one
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == ["pending"]
    assert WebhookEvent.objects.count() == 1


def test_an_endpoint_is_not_told_of_its_own_creation(org, make_endpoint):
    first, _ = make_endpoint(org, "http://127.0.0.1:9/a", ["audit.*"])
    second, _ = make_endpoint(org, "http://127.0.0.1:9/b", ["audit.*"])
    assert types_of(first) == ["webhook.created"]  # the second's
    assert types_of(second) == []
