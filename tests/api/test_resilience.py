"""What the API does when its surroundings misbehave: a dead cache, odd methods, requests that
never reach a view (the Django-level handlers the root URLconf points at)."""

import pytest
from django.test import RequestFactory

from api import problems
from tokens import format as token_format

pytestmark = pytest.mark.django_db

DEAD_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture
def dead_cache(no_redis, settings):
    """The shared cache (django-ratelimit's counters) is unreachable. Token state and usage
    log fall back on their own (no REDIS_URL); the per-address limits must fail open."""
    settings.CACHES = DEAD_CACHE


def test_with_the_cache_down_a_valid_token_is_still_served(fleet, issued, api_client, dead_cache):
    assert api_client(issued.secret).get("/api/v1/spreaders").status_code == 200


def test_with_the_cache_down_a_bad_token_is_still_a_401(fleet, api_client, dead_cache, caplog):
    assert api_client(token_format.generate()).get("/api/v1/spreaders").status_code == 401

    assert "Per-address limit api:auth-failures unavailable" in caplog.text  # failed open


def test_with_the_cache_down_a_leak_report_is_still_accepted(issued, api_client, dead_cache):
    response = api_client().post(
        "/api/v1/credentials/revoke", {"credentials": [issued.secret]}, format="json"
    )

    assert response.status_code == 202
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None


def test_head_is_answered_like_get(fleet, partner):
    response = partner.head("/api/v1/spreaders")

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/spreaders",
        "/api/v1/spreaders/EMX-001/maintenance",
        "/api/v1/alarms/1/acknowledge",
        "/api/v1/token",
        "/api/v1/credentials/revoke",
    ],
)
def test_options_never_fails(fleet, partner, path):
    assert partner.options(path).status_code == 200


@pytest.mark.parametrize(
    ("handler", "args", "status", "code"),
    [
        (problems.handler400, (None,), 400, "parse_error"),
        (problems.handler404, (None,), 404, "not_found"),
        (problems.handler500, (), 500, "server_error"),
    ],
)
def test_django_level_handlers_answer_problems_under_api(handler, args, status, code):
    response = handler(RequestFactory().get("/api/v2/anything"), *args)

    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.problem["code"] == code


@pytest.mark.parametrize(
    ("handler", "args", "status"),
    [
        (problems.handler400, (None,), 400),
        (problems.handler404, (None,), 404),
        (problems.handler500, (), 500),
    ],
)
def test_django_level_handlers_leave_portal_pages_to_django(handler, args, status):
    response = handler(RequestFactory().get("/tokens/"), *args)

    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
