"""Hostile-input fixtures: a small fleet in two organisations and fresh tokens on demand."""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from fleet.models import Alarm, MaintenanceRecord, Spreader, TelemetryReading
from tests.api.factories import make_alarm, make_maintenance, make_spreader, make_terminal
from tokens import cache as token_cache
from tokens import services
from tokens.actors import Actor
from tokens.scopes import MEMBER_SCOPES

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    token_cache.local_counters.clear()
    token_cache.reset_circuit()
    yield
    token_cache.local_counters.clear()


@dataclass
class Fleet:
    spreader: Spreader
    foreign_spreader: Spreader
    alarm: Alarm
    maintenance: MaintenanceRecord


@pytest.fixture
def fleet(org, other_org) -> Fleet:
    ours = make_spreader(make_terminal(org, "EMX"), "EMX-001")
    theirs = make_spreader(make_terminal(other_org, "ANT", country="BE"), "ANT-001")
    now = timezone.now()
    TelemetryReading.objects.bulk_create(
        TelemetryReading(
            spreader=ours,
            recorded_at=now - timedelta(minutes=15 * n),
            twistlock_cycles=1000 + n,
            lifts=500 + n,
            load_tonnes=20.0,
            hydraulic_pressure_bar=180.0,
            oil_temperature_c=55.0,
            operating_hours=1000.0 + n / 4,
        )
        for n in range(96)
    )
    make_alarm(theirs)
    make_maintenance(theirs)
    return Fleet(
        spreader=ours,
        foreign_spreader=theirs,
        alarm=make_alarm(ours, raised_at=now - timedelta(hours=1)),
        maintenance=make_maintenance(ours, performed_at=now - timedelta(days=1)),
    )


@pytest.fixture
def new_secret(org, owner) -> Callable[..., str]:
    """new_secret(**token settings) -> the secret of a fresh token with every scope.

    The fuzzer mints a token per example, far more than a plan keeps alive at once: the
    organisation's plan is raised so the cap (tested in tests/tokens) stays out of the way."""
    type(org).objects.filter(pk=org.pk).update(plan_max_active_tokens=1_000_000)

    def _new_secret(**fields) -> str:
        fields.setdefault("scopes", list(MEMBER_SCOPES))
        return services.issue_token(
            owner=owner,
            organization=org,
            name=f"hostile {next(_numbers)}",
            actor=Actor.for_user(owner, ip="192.0.2.1", user_agent="pytest"),
            **fields,
        ).secret

    return _new_secret


@pytest.fixture
def partner(new_secret) -> APIClient:
    """A client with one fresh all-scopes token (shared by a property test's examples)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_secret()}")
    return client


def assert_problem(response, *statuses: int) -> dict:
    """A 4xx answer in application/problem+json with the fields every problem has."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == response.status_code
    assert "Traceback" not in response.content.decode("utf-8", "replace")
    return body
