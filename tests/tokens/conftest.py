"""Fixtures for token tests: issuing through the real services, a stand-in API, real Redis."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis as redis_lib
from django.utils import timezone
from rest_framework.test import APIClient

from fleet.models import Terminal
from tokens import cache as token_cache
from tokens import services
from tokens.actors import Actor


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    token_cache.local_counters.clear()
    token_cache.reset_circuit()
    yield
    token_cache.local_counters.clear()


@pytest.fixture
def redis_cache(redis_client) -> Iterator[redis_lib.Redis]:
    """The shared real Redis (tests/conftest.py), holding token states and counters; the
    token keys a test made are deleted after it."""
    client = redis_client
    yield client
    for prefix in (token_cache.STATE_PREFIX, token_cache.RATE_PREFIX, token_cache.TOUCH_PREFIX):
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def terminals(org, other_org) -> dict[str, Terminal]:
    def make(organization, code):
        return Terminal.objects.create(
            organization=organization, code=code, name=f"Terminal {code}", country="NL"
        )

    return {
        "EMX": make(org, "EMX"),
        "RWG": make(org, "RWG"),
        "ANT": make(other_org, "ANT"),
    }


@pytest.fixture
def issue(org):
    """issue(owner, **settings) -> IssuedToken, through the real service."""

    def _issue(owner, **fields):
        fields.setdefault("name", f"token {timezone.now().timestamp()}")
        fields.setdefault("scopes", ["fleet:read"])
        fields.setdefault("organization", org)
        fields.setdefault("actor", Actor.for_user(owner, ip="192.0.2.1", user_agent="pytest"))
        return services.issue_token(owner=owner, **fields)

    return _issue


@pytest.fixture
def issued(issue, owner):
    return issue(owner, name="partner sync", scopes=["fleet:read", "alarms:write"])


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def days(n: int) -> timedelta:
    return timedelta(days=n)
