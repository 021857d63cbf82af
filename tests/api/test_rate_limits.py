"""Rate-limit headers on every authenticated response, 429 past the token's limit, and the
per-address limit on failed authentications (so guessing is slow)."""

import time

import pytest

from tokens import format as token_format

pytestmark = pytest.mark.django_db

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Token-Scopes")


def test_a_success_carries_the_rate_limit_headers(fleet, issue, owner, api_client):
    client = api_client(issue(owner, scopes=["fleet:read"], rate_limit_per_hour=100).secret)

    first = client.get("/api/v1/spreaders")
    second = client.get("/api/v1/spreaders")

    assert first["X-RateLimit-Limit"] == "100"
    assert first["X-RateLimit-Remaining"] == "99"
    assert second["X-RateLimit-Remaining"] == "98"
    reset = int(first["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 3600
    assert first["X-Token-Scopes"] == "fleet:read"
    assert "X-Token-Expires" in first


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/spreaders/NOPE-1", 404),
        ("get", "/api/v1/spreaders?status=sunk", 400),
        ("get", "/api/v1/alarms", 403),
        ("delete", "/api/v1/spreaders", 405),
    ],
)
def test_errors_of_an_authenticated_request_carry_them_too(fleet, client_for, method, path, status):
    response = getattr(client_for("fleet:read"), method)(path)

    assert response.status_code == status
    for header in HEADERS:
        assert header in response, header


def test_past_the_limit_the_answer_is_429_with_retry_after(fleet, issue, owner, api_client):
    client = api_client(issue(owner, scopes=["fleet:read"], rate_limit_per_hour=3).secret)
    for _ in range(3):
        assert client.get("/api/v1/terminals").status_code == 200

    response = client.get("/api/v1/terminals")

    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Limit"] == "3"


def test_one_tokens_limit_does_not_touch_another(fleet, issue, owner, api_client):
    busy = api_client(issue(owner, scopes=["fleet:read"], rate_limit_per_hour=1).secret)
    calm = api_client(issue(owner, scopes=["fleet:read"], rate_limit_per_hour=1).secret)
    busy.get("/api/v1/terminals")

    assert busy.get("/api/v1/terminals").status_code == 429
    assert calm.get("/api/v1/terminals").status_code == 200


@pytest.fixture
def strict_failure_limit(settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "API_AUTH_FAILURES_PER_IP": "3/m"}


def test_an_address_that_keeps_failing_is_refused_with_429(
    fleet, api_client, issued, strict_failure_limit
):
    # Well-formed guesses: garbage costs nothing and can never succeed, so it is not counted.
    guesser = api_client(token_format.generate())
    for _ in range(3):
        assert guesser.get("/api/v1/spreaders").status_code == 401

    refused = guesser.get("/api/v1/spreaders")
    # Even a valid token from that address waits: its next guess is not even checked.
    valid_from_same_address = api_client(issued.secret).get("/api/v1/spreaders")

    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert valid_from_same_address.status_code == 429


def test_the_failure_limit_is_per_address(fleet, api_client, issued, strict_failure_limit):
    # Well-formed guesses: garbage costs nothing and can never succeed, so it is not counted.
    guesser = api_client(token_format.generate())
    for _ in range(4):
        guesser.get("/api/v1/spreaders")

    other = api_client(issued.secret).get("/api/v1/spreaders", REMOTE_ADDR="198.51.100.7")

    assert other.status_code == 200


def test_successes_do_not_count_towards_the_failure_limit(
    fleet, api_client, partner, strict_failure_limit
):
    for _ in range(10):
        assert partner.get("/api/v1/terminals").status_code == 200
