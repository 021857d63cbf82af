"""Terminals and spreaders: what a token sees, filters, ordering, scope."""

from datetime import date

import pytest

from fleet.models import Spreader
from tests.api.factories import make_spreader

pytestmark = pytest.mark.django_db


def serials(response) -> list[str]:
    return [row["serial_number"] for row in response.json()["results"]]


def test_terminals_lists_the_organisations_terminals_only(fleet, partner):
    response = partner.get("/api/v1/terminals")

    assert response.status_code == 200
    assert [t["code"] for t in response.json()["results"]] == ["EMX", "RWG"]
    assert response.json()["results"][0] == {
        "code": "EMX",
        "name": "Terminal EMX",
        "country": "NL",
        "time_zone": "UTC",
    }


def test_a_token_for_selected_terminals_sees_only_those(fleet, client_for):
    client = client_for("fleet:read", terminal_access="selected", terminals=[fleet.rwg])

    assert [t["code"] for t in client.get("/api/v1/terminals").json()["results"]] == ["RWG"]
    assert serials(client.get("/api/v1/spreaders")) == ["RWG-001"]
    assert client.get("/api/v1/spreaders/EMX-001").status_code == 404


def test_spreaders_lists_the_organisations_spreaders(fleet, partner):
    response = partner.get("/api/v1/spreaders")

    assert response.status_code == 200
    assert serials(response) == ["EMX-001", "RWG-001"]
    assert response.json()["results"][0] == {
        "serial_number": "EMX-001",
        "model": "EH170",
        "status": "in_service",
        "commissioned_at": "2020-01-01",
        "terminal": "EMX",
    }


def test_spreaders_filter_by_terminal_status_and_model(fleet, partner):
    make_spreader(fleet.emx, "EMX-002", status=Spreader.Status.RETIRED, model="EH5")
    make_spreader(fleet.rwg, "RWG-002", status=Spreader.Status.MAINTENANCE, model="EH5")

    assert serials(partner.get("/api/v1/spreaders?terminal=EMX")) == ["EMX-001", "EMX-002"]
    assert serials(partner.get("/api/v1/spreaders?status=retired,maintenance")) == [
        "EMX-002",
        "RWG-002",
    ]
    assert serials(partner.get("/api/v1/spreaders?status=retired&status=maintenance")) == [
        "EMX-002",
        "RWG-002",
    ]
    assert serials(partner.get("/api/v1/spreaders?model=EH5&terminal=RWG")) == ["RWG-002"]
    assert serials(partner.get("/api/v1/spreaders?terminal=ANT")) == []


def test_spreaders_order_by_commissioning_date_descending(fleet, partner):
    make_spreader(fleet.emx, "EMX-002", commissioned_at=date(2023, 5, 1))
    make_spreader(fleet.emx, "EMX-003", commissioned_at=date(2021, 5, 1))

    response = partner.get("/api/v1/spreaders?ordering=-commissioned_at")

    assert serials(response) == ["EMX-002", "EMX-003", "EMX-001", "RWG-001"]


def test_spreader_detail_by_serial(fleet, partner):
    response = partner.get("/api/v1/spreaders/EMX-001")

    assert response.status_code == 200
    assert response.json()["serial_number"] == "EMX-001"


def test_unknown_spreader_is_a_404_problem(fleet, partner):
    response = partner.get("/api/v1/spreaders/NOPE-1")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_unknown_filter_value_is_a_400_naming_the_field(fleet, partner):
    response = partner.get("/api/v1/spreaders?status=sunk")

    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] == "status"
    assert "sunk" in problem["errors"][0]["detail"]


def test_unknown_query_parameter_is_refused(fleet, partner):
    response = partner.get("/api/v1/spreaders?statuss=retired")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "statuss",
            "code": "unknown_field",
            "detail": "Unknown field. Check the spelling against the API reference.",
        }
    ]
