"""Maintenance: list with filters; log with field-level validation, recording the token."""

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from fleet.models import MaintenanceRecord
from tests.api.factories import make_maintenance

pytestmark = pytest.mark.django_db

URL = "/api/v1/spreaders/EMX-001/maintenance"


def body(**fields) -> dict:
    return {
        "performed_at": (timezone.now() - timedelta(hours=2)).isoformat(),
        "kind": "part_replacement",
        "description": "Replaced flipper arm hydraulic hose\nTorque checked.",
        "operating_hours": 12034.5,
        **fields,
    }


def errors(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def test_maintenance_list_most_recent_first(fleet, partner):
    recent = make_maintenance(fleet.rwg_spreader, performed_at=timezone.now(), kind="repair")

    rows = partner.get("/api/v1/maintenance").json()["results"]

    assert rows[0]["id"] == recent.id
    assert rows[0]["spreader"] == "RWG-001"
    assert rows[0]["kind"] == "repair"
    assert rows[0]["created_by"] is None


def test_maintenance_filters(fleet, partner):
    old = make_maintenance(
        fleet.emx_spreader, performed_at=timezone.now() - timedelta(days=40), kind="calibration"
    )

    def ids(query):
        return [r["id"] for r in partner.get(f"/api/v1/maintenance?{query}").json()["results"]]

    assert ids("kind=calibration") == [old.id]
    assert ids("spreader=EMX-001") == [fleet.emx_maintenance.id, old.id]
    since = (timezone.now() - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert old.id not in ids(f"since={since}")
    assert ids(f"until={since}") == [old.id]


def test_logging_maintenance_creates_a_record_by_this_token(fleet, partner, issued):
    response = partner.post(URL, body(), format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    record = MaintenanceRecord.objects.get(pk=created["id"])
    assert record.spreader == fleet.emx_spreader
    assert record.kind == "part_replacement"
    assert record.operating_hours == 12034.5
    assert record.description.endswith("Torque checked.")
    assert record.created_by_token_id == issued.token.id
    assert created["created_by"] == {"type": "token", "token_prefix": issued.token.display_prefix}
    assert created["spreader"] == "EMX-001"


def test_operating_hours_are_optional(fleet, partner):
    data = body()
    del data["operating_hours"]

    response = partner.post(URL, data, format="json")

    assert response.status_code == 201
    assert response.json()["operating_hours"] is None


def test_every_invalid_field_is_listed(fleet, partner):
    response = partner.post(
        URL,
        {"performed_at": "last tuesday", "kind": "oiling", "operating_hours": -1},
        format="json",
    )

    assert errors(response) == {
        "performed_at": "invalid",
        "kind": "invalid_choice",
        "description": "required",
        "operating_hours": "min_value",
    }
    assert "4 errors" in response.json()["detail"]


def test_unknown_fields_are_refused(fleet, partner):
    response = partner.post(URL, body(created_by_token=1, spreader="ANT-001"), format="json")

    assert errors(response) == {"created_by_token": "unknown_field", "spreader": "unknown_field"}
    assert MaintenanceRecord.objects.count() == 3


def test_maintenance_in_the_future_is_refused(fleet, partner):
    later = (timezone.now() + timedelta(hours=1)).isoformat()

    assert errors(partner.post(URL, body(performed_at=later), format="json")) == {
        "performed_at": "in_future"
    }


def test_maintenance_before_commissioning_is_refused(fleet, partner):
    fleet.emx_spreader.commissioned_at = date(2024, 6, 1)
    fleet.emx_spreader.save(update_fields=["commissioned_at"])

    response = partner.post(URL, body(performed_at="2024-05-31T23:00:00Z"), format="json")

    assert errors(response) == {"performed_at": "before_commissioning"}


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"description": "   "}, "description", "blank"),
        ({"description": "x" * 4001}, "description", "max_length"),
        ({"description": "bad \ud800 surrogate"}, "description", "invalid_text"),
        ({"description": "nul \u0000 byte"}, "description", "invalid_text"),
        ({"description": "bell \u0007"}, "description", "invalid_text"),
        ({"description": 12}, "description", "invalid"),
        ({"description": ["a"]}, "description", "invalid"),
        ({"kind": None}, "kind", "null"),
        ({"operating_hours": "1e400"}, "operating_hours", "invalid"),
        ({"operating_hours": 2e6}, "operating_hours", "max_value"),
        ({"operating_hours": True}, "operating_hours", "invalid"),
        ({"performed_at": "0001-01-01T00:00:00Z"}, "performed_at", "before_commissioning"),
        ({"performed_at": "9999-12-31T23:59:59-05:00"}, "performed_at", "overflow"),
        ({"performed_at": 1700000000}, "performed_at", "invalid"),
    ],
)
def test_field_level_validation(fleet, partner, fields, field, code):
    # Sent as ASCII-escaped JSON, as a client would send a lone surrogate ("\ud800").
    response = partner.post(URL, json.dumps(body(**fields)), content_type="application/json")

    assert errors(response) == {field: code}


def test_unicode_text_is_kept(fleet, partner):
    text = "Überprüfung — 検査 ✓ 🚢"

    response = partner.post(URL, body(description=text), format="json")

    assert response.status_code == 201
    assert MaintenanceRecord.objects.get(pk=response.json()["id"]).description == text
