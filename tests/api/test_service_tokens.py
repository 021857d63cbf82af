"""Service tokens through the API (issue 17): treated like any token, and GET /token says the
organisation owns them through a service account."""

import pytest

from accounts.models import Membership
from members import services as member_services
from telemetry.models import UsageRecord
from tests.api.test_query_counts import api_queries
from tests.conftest import make_user
from tokens import services
from tokens.actors import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_actor(org_admin) -> Actor:
    return Actor.for_user(org_admin, ip="192.0.2.1", user_agent="pytest")


@pytest.fixture
def account(org, member, admin_actor):
    return services.create_service_account(
        org, name="SAP connector", contact=member, actor=admin_actor
    )


@pytest.fixture
def service_issued(account, admin_actor):
    return services.issue_service_token(
        account, actor=admin_actor, name="sap prod", scopes=["fleet:read"]
    )


def test_get_token_says_a_service_account_owns_it(fleet, service_issued, api_client):
    response = api_client(service_issued.secret).get("/api/v1/token")

    assert response.status_code == 200
    body = response.json()
    assert body["owner"] == {"type": "service_account", "name": "SAP connector"}
    assert body["display_prefix"].startswith("qgp_")
    assert "admin@rotterdam.example" not in response.content.decode()


def test_a_personal_token_says_its_owner_is_a_user(fleet, partner):
    assert partner.get("/api/v1/token").json()["owner"] == {
        "type": "user",
        "email": "owner@rotterdam.example",
    }


def test_a_service_token_has_scopes_tenancy_limits_and_a_usage_log_like_any_token(
    fleet, service_issued, api_client, no_redis
):
    client = api_client(service_issued.secret)

    spreaders = client.get("/api/v1/spreaders")
    assert spreaders.status_code == 200
    assert {s["serial_number"] for s in spreaders.json()["results"]} == {"EMX-001", "RWG-001"}
    assert spreaders["X-RateLimit-Limit"] == "5000"
    refused = client.post(f"/api/v1/alarms/{fleet.emx_alarm.id}/acknowledge")
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]
    logged = UsageRecord.objects.filter(token_id=service_issued.token.id)
    assert sorted(logged.values_list("status", flat=True)) == [200, 403]


def test_get_token_on_a_service_token_costs_no_query_once_verified(
    fleet, service_issued, api_client
):
    client = api_client(service_issued.secret)
    client.get("/api/v1/token")

    with api_queries(0):  # the owner came with the token lookup, into the cached state
        response = client.get("/api/v1/token")
    assert response.json()["owner"]["type"] == "service_account"


def test_the_token_keeps_working_after_its_creator_is_removed(
    fleet, org, org_admin, service_issued, api_client, committed
):
    client = api_client(service_issued.secret)
    assert client.get("/api/v1/token").status_code == 200  # cached now (with Redis)
    second = make_user("second@rotterdam.example", org, Membership.Role.ADMIN)

    with committed():
        member_services.remove_member(
            Membership.objects.get(user=org_admin, organization=org), actor=Actor.for_user(second)
        )

    response = client.get("/api/v1/token")
    assert response.status_code == 200
    assert response.json()["owner"] == {"type": "service_account", "name": "SAP connector"}
    assert client.get("/api/v1/spreaders").status_code == 200


def test_rotating_a_service_token_keeps_its_owner(fleet, service_issued, api_client):
    response = api_client(service_issued.secret).post("/api/v1/token/rotate", {}, format="json")

    assert response.status_code == 201
    assert response.json()["owner"] == {"type": "service_account", "name": "SAP connector"}
    assert api_client(response.json()["token"]).get("/api/v1/token").status_code == 200
