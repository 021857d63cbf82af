"""Cursor pagination: every row once, in a stable order, while new rows keep arriving."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.factories import make_alarm, make_spreader

pytestmark = pytest.mark.django_db


def walk(client, url: str, key: str = "id") -> list:
    seen = []
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.content
        seen += [row[key] for row in page.json()["results"]]
        url = page.json()["next"]
    return seen


@pytest.fixture
def many_alarms(fleet):
    """25 alarms on EMX-001, five of them raised at the very same moment (ties)."""
    now = timezone.now().replace(microsecond=0)
    alarms = [
        make_alarm(fleet.emx_spreader, raised_at=now - timedelta(minutes=i)) for i in range(20)
    ]
    alarms += [
        make_alarm(fleet.emx_spreader, raised_at=now - timedelta(minutes=7)) for _ in range(5)
    ]
    return alarms


def test_following_next_visits_every_row_once_newest_first(fleet, many_alarms, partner):
    seen = walk(partner, "/api/v1/alarms?spreader=EMX-001&limit=4")

    assert len(seen) == len(set(seen)) == 26  # 25 + the fleet's own
    expected = sorted(
        [*many_alarms, fleet.emx_alarm], key=lambda a: (a.raised_at, a.id), reverse=True
    )
    assert seen == [a.id for a in expected]


def test_pages_are_stable_while_new_rows_arrive(fleet, many_alarms, partner):
    first = partner.get("/api/v1/alarms?spreader=EMX-001&limit=10").json()
    # Ten new alarms, some tied with rows already paged through, arrive between two pages.
    for _ in range(10):
        make_alarm(fleet.emx_spreader, raised_at=many_alarms[7].raised_at)
        make_alarm(fleet.emx_spreader, raised_at=timezone.now())

    rest = walk(partner, first["next"])
    ids_first = [row["id"] for row in first["results"]]

    assert not set(ids_first) & set(rest)
    old = {a.id for a in many_alarms} | {fleet.emx_alarm.id}
    assert old <= set(ids_first) | set(rest)


def test_previous_leads_back_to_the_same_page(fleet, many_alarms, partner):
    first = partner.get("/api/v1/alarms?limit=5").json()
    second = partner.get(first["next"]).json()

    back = partner.get(second["previous"]).json()

    assert back["results"] == first["results"]
    assert back["previous"] is None
    assert first["previous"] is None


def test_last_page_has_no_next(fleet, partner):
    page = partner.get("/api/v1/spreaders?limit=200").json()

    assert page["next"] is None
    assert page["previous"] is None
    assert len(page["results"]) == 2


def test_links_keep_the_filters(fleet, partner):
    for i in range(3):
        make_spreader(fleet.emx, f"EMX-10{i}")

    page = partner.get("/api/v1/spreaders?terminal=EMX&limit=2").json()

    assert "terminal=EMX" in page["next"]
    assert walk(partner, page["next"], "serial_number") == ["EMX-101", "EMX-102"]


def test_descending_ordering_pages_by_serial_ties(fleet, partner):
    for i in range(5):
        make_spreader(fleet.rwg, f"RWG-2{i}")

    seen = walk(partner, "/api/v1/spreaders?ordering=-commissioned_at&limit=2", "serial_number")

    assert seen == sorted(seen)  # all commissioned the same day: serial order breaks the tie
    assert len(seen) == 7


@pytest.mark.parametrize("limit", ["0", "201", "abc", "-3"])
def test_limit_out_of_range_is_a_400(fleet, partner, limit):
    response = partner.get(f"/api/v1/alarms?limit={limit}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


def _cursor(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "eyJ",
        _cursor({"o": ["-raised_at", "-id"], "p": ["not a date", 1], "b": 0}),
        _cursor({"o": ["-raised_at", "-id"], "p": ["2026-01-01T00:00:00Z"], "b": 0}),
        _cursor({"o": ["-raised_at", "-id"], "p": ["2026-01-01T00:00:00Z", 1], "b": 7}),
        _cursor({"o": ["-raised_at", "-id"], "p": [None, 1], "b": 0}),
        _cursor({"o": ["serial_number", "id"], "p": ["A", 1], "b": 0}),  # another list's
        _cursor([1, 2, 3]),
        "A" * 5000,
    ],
)
def test_a_tampered_cursor_is_a_400(fleet, partner, cursor):
    response = partner.get(f"/api/v1/alarms?cursor={cursor}")

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "cursor",
        "code": "invalid_cursor",
        "detail": "This cursor is not valid here. Use the `next` or `previous` link as given.",
    }


def test_a_cursor_with_a_nul_character_is_a_400(fleet, partner):
    cursor = _cursor({"o": ["serial_number", "id"], "p": ["A\u0000", 1], "b": 0})

    assert partner.get(f"/api/v1/spreaders?cursor={cursor}").status_code == 400
