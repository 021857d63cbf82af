"""What nobody can do in admin: change a token, add one, delete one; touch the audit or usage log."""

import uuid

import pytest
from django.urls import reverse

from telemetry.models import UsageRecord
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(ops, org) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_kind=AuditEvent.ActorKind.USER,
        actor_label="owner@rotterdam.example",
        action=AuditEvent.Action.TOKEN_CREATED,
        organization=org,
        token_prefix="qgp_Ab12",
        ip="192.0.2.7",
    )


@pytest.fixture
def usage(org) -> UsageRecord:
    return UsageRecord.objects.create(
        request_id=uuid.uuid4(),
        organization=org,
        method="GET",
        route="api/v1/spreaders/",
        path="/api/v1/spreaders/",
        status=200,
        latency_ms=4.0,
        ip="192.0.2.7",
    )


def test_ops_cannot_change_a_tokens_scopes(ops_client, issue):
    token = issue(scopes=["fleet:read"])
    url = reverse("admin:tokens_personalaccesstoken_change", args=[token.pk])

    page = ops_client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert b'name="scopes"' not in page.content  # shown as text, not as an input

    response = ops_client.post(
        url, {"scopes": '["fleet:read", "alarms:write"]', "name": "more power", "_save": "Save"}
    )
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.scopes == ["fleet:read"]
    assert token.name == "ci deploy"


def test_even_a_superuser_cannot_edit_a_token_in_admin(super_client, issue):
    token = issue(scopes=["fleet:read"])
    url = reverse("admin:tokens_personalaccesstoken_change", args=[token.pk])
    response = super_client.post(url, {"scopes": '["alarms:write"]', "_save": "Save"})
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.scopes == ["fleet:read"]


@pytest.mark.parametrize("client_fixture", ["ops_client", "super_client"])
def test_nobody_adds_tokens_in_admin(request, client_fixture, owner, org):
    client = request.getfixturevalue(client_fixture)
    url = reverse("admin:tokens_personalaccesstoken_add")
    assert client.get(url).status_code == 403
    response = client.post(
        url, {"owner": owner.pk, "organization": org.pk, "name": "x", "display_prefix": "qgp_XXXX"}
    )
    assert response.status_code == 403
    assert not PersonalAccessToken.objects.exists()
    changelist = client.get(reverse("admin:tokens_personalaccesstoken_changelist"))
    assert reverse("admin:tokens_personalaccesstoken_add").encode() not in changelist.content


def test_nobody_deletes_tokens_in_admin(super_client, issue):
    token = issue()
    url = reverse("admin:tokens_personalaccesstoken_delete", args=[token.pk])
    assert super_client.post(url, {"post": "yes"}).status_code == 403
    response = super_client.post(
        reverse("admin:tokens_personalaccesstoken_changelist"),
        {"action": "delete_selected", "_selected_action": token.pk, "post": "yes", "index": 0},
        follow=True,
    )
    assert b"No action selected" in response.content  # there is no delete action
    assert PersonalAccessToken.objects.filter(pk=token.pk).exists()


def test_the_token_page_never_shows_a_secret_hash(ops_client, issue):
    token = issue()
    page = ops_client.get(reverse("admin:tokens_personalaccesstoken_change", args=[token.pk]))
    for secret in token.secrets.all():
        assert secret.secret_hash.encode() not in page.content
    assert token.display_prefix.encode() in page.content


@pytest.mark.parametrize("client_fixture", ["ops_client", "super_client"])
def test_nobody_edits_or_deletes_audit_events(request, client_fixture, event):
    client = request.getfixturevalue(client_fixture)
    change = reverse("admin:tokens_auditevent_change", args=[event.pk])

    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change, {"action": "token.revoked", "_save": "Save"}).status_code == 403
    delete = reverse("admin:tokens_auditevent_delete", args=[event.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:tokens_auditevent_add")).status_code == 403

    changelist = client.get(reverse("admin:tokens_auditevent_changelist"))
    assert b"delete_selected" not in changelist.content
    assert b'name="_selected_action"' not in changelist.content  # no actions at all
    event.refresh_from_db()
    assert event.action == AuditEvent.Action.TOKEN_CREATED


@pytest.mark.parametrize("client_fixture", ["ops_client", "super_client"])
def test_nobody_edits_or_deletes_usage_records(request, client_fixture, usage):
    client = request.getfixturevalue(client_fixture)
    change = reverse("admin:telemetry_usagerecord_change", args=[usage.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"status": "500", "_save": "Save"}).status_code == 403
    assert (
        client.post(
            reverse("admin:telemetry_usagerecord_delete", args=[usage.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    usage.refresh_from_db()
    assert usage.status == 200
