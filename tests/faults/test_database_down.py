"""The database down: the API answers 503 in problem+json with Retry-After and nothing about
its insides, /readyz says 503 naming the database, /healthz still answers, and everything
works again once the database is back."""

import pytest
from rest_framework.test import APIClient

from tests.faults.conftest import database_down, no_internals
from tokens import format as token_format

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = {
    "inspect the token": ("GET", "/api/v1/token"),
    "read a spreader": ("GET", "/api/v1/spreaders/EMX-001"),
    "list alarms": ("GET", "/api/v1/alarms"),
    "report a leak": ("POST", "/api/v1/credentials/revoke"),
}


def send(partner: APIClient, what: str):
    method, path = REQUESTS[what]
    if method == "POST":
        # A well-formed candidate, so the service has to look it up.
        return partner.post(path, {"credentials": [token_format.generate()]}, format="json")
    return partner.get(path)


@pytest.mark.parametrize("what", list(REQUESTS))
def test_the_api_answers_503_problem_when_the_database_is_down(fleet, partner, what):
    with database_down():
        response = send(partner, what)
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("what", list(REQUESTS))
def test_an_api_error_from_a_dead_database_tells_nothing_about_our_insides(fleet, partner, what):
    with database_down():
        response = send(partner, what)
    assert response.status_code >= 500, response.content[:300]
    assert response["Content-Type"].startswith("application/problem+json")
    no_internals(response)


def test_readyz_is_503_and_names_the_database(client):
    with database_down():
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    # The probe names the exception class for ops, nothing more: no message, no trace.
    assert set(body["checks"]["database"]) == {"ok", "error", "ms"}


def test_liveness_answers_with_the_database_down(client):
    with database_down():
        response = client.get("/healthz")
    assert response.status_code == 200


def test_the_api_answers_again_once_the_database_is_back(fleet, partner):
    with database_down():
        send(partner, "read a spreader")
    response = send(partner, "read a spreader")
    assert response.status_code == 200, response.content[:300]
