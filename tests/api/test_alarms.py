"""Alarms: list with filters, acknowledge (idempotent, records the token)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet import services
from fleet.models import Alarm
from tests.api.factories import make_alarm

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_alarms_list_newest_first_with_their_fields(fleet, partner):
    cleared = make_alarm(
        fleet.rwg_spreader,
        severity="critical",
        raised_at=timezone.now() - timedelta(minutes=5),
        cleared_at=timezone.now(),
    )

    rows = partner.get("/api/v1/alarms").json()["results"]

    # The fleet's two alarms were raised at the same moment: the later id comes first.
    assert [r["id"] for r in rows] == [cleared.id, fleet.rwg_alarm.id, fleet.emx_alarm.id]
    assert rows[0]["spreader"] == "RWG-001"
    assert rows[0]["state"] == "cleared"
    assert rows[0]["severity"] == "critical"
    assert rows[0]["acknowledged_by"] is None
    assert set(rows[0]) == {
        "id",
        "spreader",
        "code",
        "severity",
        "message",
        "state",
        "raised_at",
        "cleared_at",
        "acknowledged_at",
        "acknowledged_by",
    }


def test_alarms_filter_by_state_severity_spreader_and_time(fleet, partner):
    now = timezone.now()
    old = make_alarm(fleet.emx_spreader, severity="info", raised_at=now - timedelta(days=3))
    cleared = make_alarm(fleet.emx_spreader, severity="critical", cleared_at=now)

    assert ids(partner.get("/api/v1/alarms?state=cleared")) == [cleared.id]
    assert set(ids(partner.get("/api/v1/alarms?state=active"))) == {
        old.id,
        fleet.emx_alarm.id,
        fleet.rwg_alarm.id,
    }
    assert ids(partner.get("/api/v1/alarms?severity=info,critical")) == [cleared.id, old.id]
    assert ids(partner.get("/api/v1/alarms?spreader=RWG-001")) == [fleet.rwg_alarm.id]
    since = (now - timedelta(days=1)).isoformat()
    until = (now - timedelta(days=2)).isoformat()
    assert old.id not in ids(partner.get("/api/v1/alarms", {"since": since}))
    assert ids(partner.get("/api/v1/alarms", {"until": until})) == [old.id]


def test_alarms_filter_by_acknowledgement(fleet, partner, issued):
    services.acknowledge_alarm(fleet.emx_alarm, by_token_id=issued.token.id)

    assert ids(partner.get("/api/v1/alarms?acknowledged=true")) == [fleet.emx_alarm.id]
    assert ids(partner.get("/api/v1/alarms?acknowledged=false")) == [fleet.rwg_alarm.id]


def test_acknowledging_records_the_token_and_time(fleet, partner, issued):
    response = partner.post(f"/api/v1/alarms/{fleet.emx_alarm.id}/acknowledge")

    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged_at"] is not None
    assert body["acknowledged_by"] == {"type": "token", "token_prefix": issued.token.display_prefix}
    fleet.emx_alarm.refresh_from_db()
    assert fleet.emx_alarm.acknowledged_by_token_id == issued.token.id
    assert fleet.emx_alarm.acknowledged_by_user_id is None


def test_acknowledging_twice_changes_nothing(fleet, partner, client_for):
    first = partner.post(f"/api/v1/alarms/{fleet.emx_alarm.id}/acknowledge").json()

    again = partner.post(f"/api/v1/alarms/{fleet.emx_alarm.id}/acknowledge")
    by_another_token = client_for("alarms:write").post(
        f"/api/v1/alarms/{fleet.emx_alarm.id}/acknowledge"
    )

    assert again.status_code == by_another_token.status_code == 200
    assert again.json() == first
    assert by_another_token.json()["acknowledged_by"] == first["acknowledged_by"]


def test_acknowledging_ignores_a_body(fleet, partner):
    response = partner.post(
        f"/api/v1/alarms/{fleet.emx_alarm.id}/acknowledge", {"note": "x"}, format="json"
    )

    assert response.status_code == 200


def test_acknowledge_alarm_wants_exactly_one_author(fleet, owner):
    with pytest.raises(ValueError, match="exactly one"):
        services.acknowledge_alarm(fleet.emx_alarm)
    with pytest.raises(ValueError, match="exactly one"):
        services.acknowledge_alarm(fleet.emx_alarm, by_token_id=1, by_user=owner)


def test_a_person_can_acknowledge_through_the_service(fleet, owner, partner):
    alarm = services.acknowledge_alarm(fleet.rwg_alarm, by_user=owner)

    assert alarm.acknowledged_by_user == owner
    row = partner.get("/api/v1/alarms?spreader=RWG-001").json()["results"][0]
    assert row["acknowledged_by"] == {"type": "user"}
    assert Alarm.objects.get(pk=fleet.rwg_alarm.pk).acknowledged_at is not None
