"""GET/DELETE /token and POST /token/rotate: a token inspects, revokes and rotates itself."""

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Notification
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db


def test_get_token_shows_its_metadata_and_never_the_secret(fleet, issue, owner, api_client):
    issued = issue(
        owner,
        name="nightly sync",
        scopes=["fleet:read", "alarms:write"],
        terminal_access="selected",
        terminals=[fleet.rwg, fleet.emx],
        allowed_ips=["127.0.0.0/8"],
        rate_limit_per_hour=1200,
    )

    response = api_client(issued.secret).get("/api/v1/token")

    assert response.status_code == 200
    body = response.json()
    token = issued.token
    assert body == {
        "id": token.id,
        "name": "nightly sync",
        "display_prefix": token.display_prefix,
        "organization": "Port of Rotterdam",
        "owner": {"type": "user", "email": "owner@rotterdam.example"},
        "scopes": ["fleet:read", "alarms:write"],
        "terminal_access": "selected",
        "terminals": ["EMX", "RWG"],
        "allowed_ips": ["127.0.0.0/8"],
        "rate_limit_per_hour": 1200,
        "created_at": body["created_at"],
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "last_used_at": body["last_used_at"],
        "regenerated_at": None,
    }
    assert issued.secret not in response.content.decode()


def test_get_token_shows_the_policy_rate_limit_when_the_token_has_none(fleet, partner):
    assert partner.get("/api/v1/token").json()["rate_limit_per_hour"] == 5000


def test_delete_token_revokes_it_and_the_next_call_is_401(fleet, partner, issued, committed):
    partner.get("/api/v1/token")  # its state is now cached (with Redis)

    with committed():
        response = partner.delete("/api/v1/token")

    assert response.status_code == 204
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revoked_at is not None
    assert token.revoked_by_kind == PersonalAccessToken.RevokedBy.OWNER
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED, token=token)
    assert event.actor_kind == "token"
    assert event.actor_token_id == token.id
    assert partner.get("/api/v1/token").status_code == 401


def test_rotate_returns_a_new_secret_once_and_the_old_one_dies_at_once(
    fleet, partner, issued, api_client, committed
):
    partner.get("/api/v1/token")  # its state is now cached (with Redis)

    with committed():
        response = partner.post("/api/v1/token/rotate", {}, format="json")

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    new_secret = body["token"]
    assert new_secret.startswith("qgp_") and new_secret != issued.secret
    assert body["display_prefix"] == new_secret[:8]
    assert body["old_secret_valid_until"] is None
    assert body["scopes"] == issued.token.scopes
    assert body["regenerated_at"] is not None
    assert api_client(new_secret).get("/api/v1/token").status_code == 200
    assert api_client(issued.secret).get("/api/v1/token").status_code == 401
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.TOKEN_ROTATED, token=issued.token, actor_kind="token"
    ).exists()
    assert Notification.objects.filter(
        kind=Notification.Kind.TOKEN_REGENERATED, user=issued.token.owner
    ).exists()


def test_rotate_with_an_overlap_keeps_the_old_secret_working_that_long(
    fleet, partner, issued, api_client, committed
):
    partner.get("/api/v1/token")

    with committed():
        response = partner.post("/api/v1/token/rotate", {"overlap_hours": 2}, format="json")

    assert response.status_code == 201
    new_secret = response.json()["token"]
    assert response.json()["old_secret_valid_until"] is not None
    assert api_client(issued.secret).get("/api/v1/token").status_code == 200
    assert api_client(new_secret).get("/api/v1/token").status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2, minutes=1)):
        assert api_client(issued.secret).get("/api/v1/token").status_code == 401
        assert api_client(new_secret).get("/api/v1/token").status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"overlap_hours": 25}, "max_value"),
        ({"overlap_hours": -1}, "min_value"),
        ({"overlap_hours": "two"}, "invalid"),
        ({"overlap_hours": 1.5}, "invalid"),
        ({"overlap_hours": True}, "invalid"),
        ({"overlap": 2}, "unknown_field"),
    ],
)
def test_rotate_refuses_a_bad_overlap(fleet, partner, issued, api_client, body, code):
    response = partner.post("/api/v1/token/rotate", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert api_client(issued.secret).get("/api/v1/token").status_code == 200  # not rotated


def test_rotate_without_a_body_is_fine(fleet, partner):
    assert partner.post("/api/v1/token/rotate").status_code == 201
