"""API fixtures: a fleet in two organisations, tokens issued through the real services, and a
client that sends `Authorization: Bearer <secret>`."""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from fleet.models import Alarm, MaintenanceRecord, Spreader, Terminal
from tests.api.factories import make_alarm, make_maintenance, make_spreader, make_terminal
from tokens import cache as token_cache
from tokens import services
from tokens.actors import Actor
from tokens.scopes import MEMBER_SCOPES


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    """Per-process rate-limit counters and the Redis circuit breaker start clean."""
    token_cache.local_counters.clear()
    token_cache.reset_circuit()
    yield
    token_cache.local_counters.clear()


_token_numbers = itertools.count(1)


@dataclass
class Fleet:
    """Our organisation: terminals EMX and RWG; the other organisation: ANT."""

    emx: Terminal
    rwg: Terminal
    ant: Terminal
    emx_spreader: Spreader
    rwg_spreader: Spreader
    ant_spreader: Spreader
    emx_alarm: Alarm
    rwg_alarm: Alarm
    ant_alarm: Alarm
    emx_maintenance: MaintenanceRecord
    rwg_maintenance: MaintenanceRecord
    ant_maintenance: MaintenanceRecord


@pytest.fixture
def fleet(org, other_org) -> Fleet:
    emx, rwg = make_terminal(org, "EMX"), make_terminal(org, "RWG")
    ant = make_terminal(other_org, "ANT", country="BE")
    spreaders = [
        make_spreader(emx, "EMX-001"),
        make_spreader(rwg, "RWG-001"),
        make_spreader(ant, "ANT-001"),
    ]
    now = timezone.now()
    alarms = [make_alarm(s, raised_at=now - timedelta(hours=1)) for s in spreaders]
    records = [make_maintenance(s, performed_at=now - timedelta(days=1)) for s in spreaders]
    return Fleet(emx, rwg, ant, *spreaders, *alarms, *records)


@pytest.fixture
def issue(org) -> Callable[..., services.IssuedToken]:
    """issue(owner, scopes=[...], **settings) -> IssuedToken, through the real service."""

    def _issue(owner, **fields) -> services.IssuedToken:
        fields.setdefault("name", f"token {next(_token_numbers)}")
        fields.setdefault("scopes", list(MEMBER_SCOPES))
        fields.setdefault("organization", org)
        fields.setdefault("actor", Actor.for_user(owner, ip="192.0.2.1", user_agent="pytest"))
        return services.issue_token(owner=owner, **fields)

    return _issue


@pytest.fixture
def api_client() -> Callable[[str | None], APIClient]:
    """api_client(token_secret) -> a client sending `Authorization: Bearer <secret>`."""

    def _client(secret: str | None = None) -> APIClient:
        client = APIClient()
        if secret is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return _client


@pytest.fixture
def issued(issue, owner) -> services.IssuedToken:
    """A token with every scope a member may hold, on every terminal of `org`."""
    return issue(owner, name="partner sync")


@pytest.fixture
def client_for(issue, owner, api_client) -> Callable[..., APIClient]:
    """client_for("fleet:read", …, **token settings) -> a client with a fresh token of those scopes."""

    def _client_for(*scopes: str, **fields) -> APIClient:
        return api_client(issue(owner, scopes=list(scopes), **fields).secret)

    return _client_for


@pytest.fixture
def partner(issued, api_client) -> APIClient:
    return api_client(issued.secret)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): …` runs what the services defer to commit (dropping a token's cached
    state, sending its email), as a real request's commit would. The test transaction never
    commits, so without this a revoked token's state would stay cached in Redis."""

    def _committed():
        return django_capture_on_commit_callbacks(execute=True)

    return _committed
