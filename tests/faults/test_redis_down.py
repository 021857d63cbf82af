"""Redis down: the API keeps answering, limits degrade to per-process counts (as the README
says), usage goes straight to the database, /readyz says "degraded" and names what is down."""

import pytest
from rest_framework.test import APIClient

from telemetry import usage
from telemetry.models import UsageRecord
from tests.conftest import PASSWORD
from tests.hostile.conftest import assert_problem
from tokens import services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_down")]


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_the_api_keeps_answering_with_redis_down(fleet, partner):
    response = partner.get(f"/api/v1/spreaders/{fleet.spreader.serial_number}")
    assert response.status_code == 200, response.content[:300]
    assert response["X-RateLimit-Remaining"]


def test_a_revoked_token_is_still_refused_with_redis_down(fleet, new_secret, owner):
    secret = new_secret()
    token = PersonalAccessToken.objects.get(display_prefix=secret[:8])
    services.revoke_token(token, actor=Actor.for_user(owner), reason="leaked")
    response = client_with(secret).get("/api/v1/token")
    assert assert_problem(response, 401)["code"] == "invalid_token"


def test_the_rate_limit_still_holds_per_process_with_redis_down(fleet, new_secret):
    client = client_with(new_secret(rate_limit_per_hour=3))
    statuses = [client.get("/api/v1/token").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_usage_is_written_to_the_database_while_redis_is_down(fleet, partner):
    before = UsageRecord.objects.count()
    partner.get("/api/v1/terminals")
    usage.settle()  # the flusher finds Redis down and stores the record itself
    assert UsageRecord.objects.count() == before + 1
    assert UsageRecord.objects.latest("id").route.endswith("terminals")


def test_readyz_says_degraded_and_names_redis(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body  # the node stays in rotation: the API works
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False


def test_liveness_and_the_sign_in_page_answer_with_redis_down(client):
    assert client.get("/healthz").status_code == 200
    response = client.get("/login/")
    assert response.status_code == 200


def test_signing_in_works_with_redis_down(client, owner):
    response = client.post("/login/", {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
