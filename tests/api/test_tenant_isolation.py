"""A token sees its organisation's data on its selected terminals, and nothing else: every other
object is 404 (never 403), so an answer never tells whether it exists."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import Alarm, MaintenanceRecord
from tests.api.factories import make_alarm, make_maintenance, make_spreader, make_terminal

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


# --- sandbox ↔ production: the same walk between the two kinds of terminal of one organisation ---


@pytest.fixture
def sandbox_rows(org):
    """A sandbox terminal of our own organisation with a spreader, an alarm and a record."""
    terminal = make_terminal(org, "SBX", sandbox=True)
    spreader = make_spreader(terminal, "SBX-001")
    alarm = make_alarm(spreader, raised_at=timezone.now() - timedelta(hours=1))
    make_maintenance(spreader, performed_at=timezone.now() - timedelta(days=1))
    return spreader, alarm


@pytest.fixture
def sandbox_client(issue, owner, api_client):
    return api_client(issue(owner, kind="sandbox").secret)


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_a_production_token_finds_no_sandbox_object(fleet, sandbox_rows, partner, method, template):
    spreader, alarm = sandbox_rows
    response = call(partner, method, template, spreader, alarm)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    alarm.refresh_from_db()
    assert alarm.acknowledged_at is None
    assert MaintenanceRecord.objects.filter(spreader=spreader).count() == 1


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_a_sandbox_token_finds_no_production_object(
    fleet, sandbox_rows, sandbox_client, method, template
):
    response = call(sandbox_client, method, template, fleet.emx_spreader, fleet.emx_alarm)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Alarm.objects.filter(acknowledged_at__isnull=False).exists()
    assert MaintenanceRecord.objects.filter(spreader__terminal__sandbox=False).count() == 3


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_a_sandbox_token_reaches_its_own_sandbox_objects(
    fleet, sandbox_rows, sandbox_client, method, template
):
    spreader, alarm = sandbox_rows
    response = call(sandbox_client, method, template, spreader, alarm)

    assert response.status_code in (200, 201), response.json()


@pytest.mark.parametrize("path", LISTS)
def test_production_lists_hold_no_sandbox_row(fleet, sandbox_rows, partner, path):
    rows = partner.get(path).json()["results"]

    assert "SBX" not in str(rows)
    assert len(rows) == 2  # EMX and RWG


@pytest.mark.parametrize("path", LISTS)
def test_sandbox_lists_hold_no_production_row(fleet, sandbox_rows, sandbox_client, path):
    rows = sandbox_client.get(path).json()["results"]

    assert rows, path
    assert "SBX" in str(rows)
    assert "EMX" not in str(rows) and "RWG" not in str(rows) and "ANT" not in str(rows)


def test_a_sandbox_token_sees_no_other_organisations_sandbox(
    fleet, sandbox_rows, other_org, outsider, issue, api_client
):
    theirs = api_client(issue(outsider, organization=other_org, kind="sandbox").secret)

    assert theirs.get("/api/v1/spreaders/SBX-001").status_code == 404
    assert "SBX-001" not in str(theirs.get("/api/v1/spreaders").json())


def test_a_sandbox_token_ignores_a_selection_of_production_terminals(
    fleet, sandbox_rows, issue, owner, api_client
):
    client = api_client(
        issue(owner, kind="sandbox", terminal_access="selected", terminals=[fleet.emx]).secret
    )

    assert client.get("/api/v1/spreaders/SBX-001").status_code == 200
    assert client.get("/api/v1/spreaders/EMX-001").status_code == 404


def test_pickers_offer_production_terminals_only(fleet, sandbox_rows, org):
    from fleet.models import Terminal

    assert [t.code for t in Terminal.objects.for_org(org)] == ["EMX", "RWG"]
    assert [t.code for t in Terminal.objects.for_org(org, sandbox=True)] == ["SBX"]


def test_a_token_cannot_be_restricted_to_a_sandbox_terminal(fleet, sandbox_rows, issue, owner):
    from tokens.exceptions import InvalidInput

    sandbox_terminal = sandbox_rows[0].terminal
    with pytest.raises(InvalidInput) as refused:
        issue(owner, terminal_access="selected", terminals=[sandbox_terminal])
    assert refused.value.code == "invalid_terminal"
