"""A token sees its organisation's data on its selected terminals, and nothing else: every other
object is 404 (never 403), so an answer never tells whether it exists."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import Alarm, MaintenanceRecord
from tests.api.factories import make_spreader

pytestmark = pytest.mark.django_db


def maintenance_body() -> dict:
    return {
        "performed_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "kind": "repair",
        "description": "Replaced a hose",
    }


# Every endpoint that names an object, with {spreader} and {alarm} to fill in.
BY_ID = [
    ("get", "/api/v1/spreaders/{spreader}"),
    ("get", "/api/v1/spreaders/{spreader}/telemetry"),
    ("post", "/api/v1/spreaders/{spreader}/maintenance"),
    ("post", "/api/v1/alarms/{alarm}/acknowledge"),
]
LISTS = ["/api/v1/terminals", "/api/v1/spreaders", "/api/v1/alarms", "/api/v1/maintenance"]


def call(client, method, template, spreader, alarm):
    path = template.format(spreader=spreader.serial_number, alarm=alarm.id)
    body = maintenance_body() if path.endswith("/maintenance") else None
    return getattr(client, method)(path, data=body, format="json")


def assert_untouched(fleet) -> None:
    """Nothing was written to the objects the token may not see."""
    assert not Alarm.objects.filter(acknowledged_at__isnull=False).exists()
    assert MaintenanceRecord.objects.count() == 3


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_another_organisations_objects_are_not_found(fleet, partner, method, template):
    response = call(partner, method, template, fleet.ant_spreader, fleet.ant_alarm)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert_untouched(fleet)


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_an_unselected_terminals_objects_are_not_found(fleet, client_for, method, template):
    client = client_for(
        "fleet:read",
        "telemetry:read",
        "alarms:write",
        "maintenance:write",
        terminal_access="selected",
        terminals=[fleet.emx],
    )

    response = call(client, method, template, fleet.rwg_spreader, fleet.rwg_alarm)

    assert response.status_code == 404
    assert_untouched(fleet)


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_foreign_and_missing_objects_get_the_same_answer(fleet, partner, method, template):
    foreign = call(partner, method, template, fleet.ant_spreader, fleet.ant_alarm)
    fleet.ant_alarm.id = 10**9
    fleet.ant_spreader.serial_number = "NO-SUCH-1"
    missing = call(partner, method, template, fleet.ant_spreader, fleet.ant_alarm)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"]
    assert foreign.json()["title"] == missing.json()["title"]


@pytest.mark.parametrize("path", LISTS)
def test_lists_hold_only_the_organisations_rows(fleet, partner, path):
    rows = partner.get(path).json()["results"]

    text = str(rows)
    assert "ANT" not in text
    assert len(rows) == 2  # EMX and RWG


@pytest.mark.parametrize("path", LISTS)
def test_lists_hold_only_the_selected_terminals_rows(fleet, client_for, path):
    client = client_for(
        "fleet:read",
        "alarms:read",
        "maintenance:read",
        terminal_access="selected",
        terminals=[fleet.rwg],
    )

    rows = client.get(path).json()["results"]

    assert len(rows) == 1
    assert "EMX" not in str(rows)


@pytest.mark.parametrize("path", ["/api/v1/alarms", "/api/v1/maintenance"])
def test_filtering_by_a_foreign_spreader_finds_nothing(fleet, partner, path):
    response = partner.get(f"{path}?spreader=ANT-001")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_spreader_moved_off_a_selected_terminal_disappears(fleet, client_for):
    client = client_for("fleet:read", terminal_access="selected", terminals=[fleet.emx])
    moved = make_spreader(fleet.emx, "MOV-001")
    assert client.get("/api/v1/spreaders/MOV-001").status_code == 200

    moved.terminal = fleet.rwg
    moved.save(update_fields=["terminal"])

    assert client.get("/api/v1/spreaders/MOV-001").status_code == 404


def test_the_token_endpoints_only_ever_show_the_calling_token(
    fleet, issue, outsider, other_org, api_client, partner, issued
):
    foreign = issue(outsider, organization=other_org, name="theirs")

    mine = partner.get("/api/v1/token").json()
    theirs = api_client(foreign.secret).get("/api/v1/token").json()

    assert mine["id"] == issued.token.id
    assert theirs["id"] == foreign.token.id
    assert theirs["organization"] == other_org.name
