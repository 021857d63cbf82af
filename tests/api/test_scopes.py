"""Every endpoint, with the scope it needs (allowed) and without it (403 insufficient_scope)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tokens.scopes import MEMBER_SCOPES, effective

pytestmark = pytest.mark.django_db


def maintenance_body() -> dict:
    return {
        "performed_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "kind": "lubrication",
        "description": "Greased the twistlocks",
    }


# (method, path, scope it needs, body, success status)
SCOPED = [
    ("get", "/api/v1/terminals", "fleet:read", None, 200),
    ("get", "/api/v1/spreaders", "fleet:read", None, 200),
    ("get", "/api/v1/spreaders/EMX-001", "fleet:read", None, 200),
    ("get", "/api/v1/spreaders/EMX-001/telemetry", "telemetry:read", None, 200),
    ("get", "/api/v1/alarms", "alarms:read", None, 200),
    ("post", "/api/v1/alarms/{alarm}/acknowledge", "alarms:write", None, 200),
    ("get", "/api/v1/maintenance", "maintenance:read", None, 200),
    ("post", "/api/v1/spreaders/EMX-001/maintenance", "maintenance:write", maintenance_body, 201),
]


def call(client, method, path, fleet, body=None):
    path = path.format(alarm=fleet.emx_alarm.id)
    data = body() if callable(body) else body
    return getattr(client, method)(path, data=data, format="json")


@pytest.mark.parametrize(("method", "path", "scope", "body", "status"), SCOPED)
def test_the_scope_it_needs_is_enough(fleet, client_for, method, path, scope, body, status):
    response = call(client_for(scope), method, path, fleet, body)

    assert response.status_code == status, response.content


@pytest.mark.parametrize(("method", "path", "scope", "body", "status"), SCOPED)
def test_every_other_scope_is_not(fleet, client_for, method, path, scope, body, status):
    others = [s for s in MEMBER_SCOPES if scope not in effective([s])]

    response = call(client_for(*others), method, path, fleet, body)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="quaygate", error="insufficient_scope", scope="{scope}"'
    )


@pytest.mark.parametrize(
    ("method", "path", "read_scope"),
    [
        ("post", "/api/v1/alarms/{alarm}/acknowledge", "alarms:read"),
        ("post", "/api/v1/spreaders/EMX-001/maintenance", "maintenance:read"),
    ],
)
def test_a_read_scope_cannot_write(fleet, client_for, method, path, read_scope):
    response = call(client_for(read_scope), method, path, fleet, maintenance_body)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "write_scope"),
    [("/api/v1/alarms", "alarms:write"), ("/api/v1/maintenance", "maintenance:write")],
)
def test_a_write_scope_includes_read(fleet, client_for, path, write_scope):
    assert client_for(write_scope).get(path).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/api/v1/token", 200), ("post", "/api/v1/token/rotate", 201)],
)
def test_token_self_endpoints_need_no_particular_scope(fleet, client_for, method, path, status):
    response = getattr(client_for("telemetry:read"), method)(path, format="json")

    assert response.status_code == status


def test_any_token_may_revoke_itself(fleet, client_for):
    assert client_for("telemetry:read").delete("/api/v1/token").status_code == 204
