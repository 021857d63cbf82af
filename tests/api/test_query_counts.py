"""Pinned query counts: a list costs the same few queries whatever its length (no N+1).

Counted after one warm-up request, so the once-a-minute "last used" write is done. Not counted:
the usage-log row the telemetry middleware writes when there is no Redis (its own tests pin
it). Token verification costs one query without Redis and none once its state is cached.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleet import services
from tests.api.factories import (
    make_alarm,
    make_maintenance,
    make_spreader,
    make_terminal,
    reading,
    save_readings,
)

pytestmark = pytest.mark.django_db


def _usage_log(sql: str) -> bool:
    return "telemetry_usagerecord" in sql or sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))


@contextmanager
def api_queries(expected: int) -> Iterator[None]:
    """Exactly `expected` queries by the view, plus the token lookup when nothing caches it."""
    with CaptureQueriesContext(connection) as context:
        yield
    queries = [q["sql"] for q in context.captured_queries if not _usage_log(q["sql"])]
    token_lookup = 0 if settings.REDIS_URL else 1
    assert len(queries) == expected + token_lookup, "\n\n".join(queries)


@pytest.fixture
def busy_fleet(fleet, org, issue, owner):
    """Enough rows of every kind, written by several tokens, that an N+1 would show."""
    writers = [issue(owner, name=f"writer {i}").token for i in range(3)]
    terminals = [make_terminal(org, f"T{i}") for i in range(4)]
    spreaders = [make_spreader(terminals[i % 4], f"BUSY-{i:03d}") for i in range(12)]
    for i, spreader in enumerate(spreaders):
        alarm = make_alarm(spreader, raised_at=timezone.now() - timedelta(minutes=i))
        services.acknowledge_alarm(alarm, by_token_id=writers[i % 3].id)
        make_maintenance(spreader, created_by_token=writers[i % 3])
    return fleet


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/terminals",
        "/api/v1/spreaders",
        "/api/v1/spreaders?terminal=T1&status=in_service&ordering=-model",
        "/api/v1/alarms",
        "/api/v1/alarms?state=active&severity=warning&acknowledged=true",
        "/api/v1/maintenance",
        "/api/v1/maintenance?kind=inspection",
    ],
)
def test_a_list_page_is_one_query(busy_fleet, partner, path):
    partner.get(path)

    with api_queries(1):
        response = partner.get(path)

    assert response.status_code == 200
    assert len(response.json()["results"]) >= 2


def test_following_a_cursor_is_one_query(busy_fleet, partner):
    next_page = partner.get("/api/v1/alarms?limit=3").json()["next"]

    with api_queries(1):
        assert partner.get(next_page).status_code == 200


def test_a_spreader_is_one_query(busy_fleet, partner):
    partner.get("/api/v1/spreaders/BUSY-001")

    with api_queries(1):
        response = partner.get("/api/v1/spreaders/BUSY-001")

    assert response.status_code == 200


@pytest.mark.parametrize("resolution", ["raw", "hour", "day"])
@pytest.mark.parametrize("tz", ["utc", "terminal", "Asia/Kolkata"])
def test_telemetry_is_two_queries_whatever_the_readings(busy_fleet, partner, resolution, tz):
    busy_fleet.emx.time_zone = "Europe/Amsterdam"
    busy_fleet.emx.save(update_fields=["time_zone"])
    # Across the night Amsterdam's clocks went back: still one query for the buckets.
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)
    save_readings(
        *(reading(busy_fleet.emx_spreader, start + timedelta(minutes=5 * i)) for i in range(60))
    )
    path = (
        f"/api/v1/spreaders/EMX-001/telemetry?resolution={resolution}&tz={tz}"
        f"&since=2026-10-24T20:00:00Z&until=2026-10-25T04:00:00Z"
    )
    partner.get(path)

    with api_queries(2):  # the spreader (tenancy), then the readings or their buckets
        assert partner.get(path).status_code == 200


def test_the_token_answers_from_its_verified_state_with_no_query_of_its_own(fleet, client_for):
    client = client_for("fleet:read", terminal_access="selected", terminals=[fleet.emx, fleet.rwg])
    client.get("/api/v1/token")

    with api_queries(0):  # name, organisation, terminals… all came with the token lookup
        response = client.get("/api/v1/token")
    assert response.status_code == 200
    assert response.json()["terminals"] == sorted([fleet.emx.code, fleet.rwg.code])
