"""Issue 15: the sandbox fleet — deterministic fixtures, generated once on first use."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from fleet import sandbox
from fleet.models import Alarm, MaintenanceRecord, Spreader, TelemetryReading, Terminal
from tests.api.test_query_counts import api_queries
from tests.conftest import make_org

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 42, tzinfo=UTC)


def snapshot(org) -> dict:
    """Every sandbox row of `org`, without database ids."""
    spreaders = Spreader.objects.filter(terminal__organization=org, terminal__sandbox=True)
    return {
        "terminals": list(
            Terminal.objects.for_org(org, sandbox=True).values_list(
                "code", "name", "country", "time_zone"
            )
        ),
        "spreaders": list(
            spreaders.order_by("serial_number").values_list(
                "serial_number", "terminal__code", "model", "commissioned_at", "status"
            )
        ),
        "readings": list(
            TelemetryReading.objects.filter(spreader__in=spreaders)
            .order_by("spreader__serial_number", "recorded_at")
            .values_list(
                "spreader__serial_number",
                "recorded_at",
                "twistlock_cycles",
                "lifts",
                "load_tonnes",
                "hydraulic_pressure_bar",
                "oil_temperature_c",
                "operating_hours",
            )
        ),
        "alarms": list(
            Alarm.objects.filter(spreader__in=spreaders)
            .order_by("spreader__serial_number", "raised_at")
            .values_list("spreader__serial_number", "code", "severity", "raised_at", "cleared_at")
        ),
        "maintenance": list(
            MaintenanceRecord.objects.filter(spreader__in=spreaders)
            .order_by("spreader__serial_number", "performed_at")
            .values_list("spreader__serial_number", "kind", "performed_at", "description")
        ),
    }


def test_the_fleet_has_the_documented_shape(org):
    assert sandbox.ensure_sandbox_fleet(org, now=NOW) is True

    rows = snapshot(org)
    assert [t[0] for t in rows["terminals"]] == ["SBX-N", "SBX-S"]
    assert len(rows["spreaders"]) == 6
    assert len(rows["readings"]) == 6 * 7 * 24
    assert rows["alarms"] and rows["maintenance"]
    anchor = datetime(2026, 11, 20, tzinfo=UTC)  # the day boundary before generation
    assert min(r[1] for r in rows["readings"]) == anchor - timedelta(days=7)
    assert max(r[1] for r in rows["readings"]) == anchor - timedelta(hours=1)
    assert all(a[3] < anchor for a in rows["alarms"])
    assert all(m[2] < anchor for m in rows["maintenance"])
    assert not Terminal.objects.for_org(org).exists()  # nothing production was made


def test_same_organisation_and_day_give_identical_rows(org):
    sandbox.ensure_sandbox_fleet(org, now=NOW)
    first = snapshot(org)

    sandbox.reset_sandbox_fleet(org, now=NOW + timedelta(hours=5))  # same day

    assert snapshot(org) == first


def test_another_organisation_gets_its_own_rows(org, other_org):
    sandbox.ensure_sandbox_fleet(org, now=NOW)
    sandbox.ensure_sandbox_fleet(other_org, now=NOW)

    ours, theirs = snapshot(org), snapshot(other_org)
    assert {s[0] for s in ours["spreaders"]}.isdisjoint({s[0] for s in theirs["spreaders"]})
    assert [r[2:] for r in ours["readings"]] != [r[2:] for r in theirs["readings"]]


def test_a_second_call_generates_nothing(org, django_assert_num_queries):
    sandbox.ensure_sandbox_fleet(org, now=NOW)
    before = snapshot(org)

    with django_assert_num_queries(1):  # one EXISTS
        assert sandbox.ensure_sandbox_fleet(org, now=NOW) is False
    assert snapshot(org) == before


def test_generation_costs_a_fixed_number_of_queries(org, django_assert_num_queries):
    # EXISTS, lock, EXISTS again, then one bulk insert per model (savepoint pair in tests).
    with django_assert_num_queries(10):
        sandbox.ensure_sandbox_fleet(org, now=NOW)


def test_reset_restores_the_fixtures_and_leaves_production_alone(org, fleet):
    sandbox.ensure_sandbox_fleet(org, now=NOW)
    first = snapshot(org)
    spreader = Spreader.objects.filter(terminal__sandbox=True, terminal__organization=org).first()
    Alarm.objects.filter(spreader=spreader).update(acknowledged_at=NOW)
    MaintenanceRecord.objects.create(
        spreader=spreader, performed_at=NOW, kind="repair", description="partner test"
    )

    sandbox.reset_sandbox_fleet(org, now=NOW)

    assert snapshot(org) == first
    assert not Alarm.objects.filter(acknowledged_at__isnull=False).exists()
    assert MaintenanceRecord.objects.filter(spreader__terminal__sandbox=False).count() == 3
    assert [t.code for t in Terminal.objects.for_org(org)] == ["EMX", "RWG"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database refuses a second writer ('database table is "
    "locked') where a server waits; the row lock that serialises the two is PostgreSQL's",
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_requests_generate_once():
    org = make_org("Concurrent Port", api_access="sandbox")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def first_request():
        try:
            barrier.wait()
            results.append(sandbox.ensure_sandbox_fleet(org, now=NOW))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [False, True]
    assert Terminal.objects.for_org(org, sandbox=True).count() == 2


# --- through the API ------------------------------------------------------------------------------


def test_a_sandbox_tokens_first_fleet_call_builds_the_fleet(fleet, org, issue, owner, api_client):
    production = api_client(issue(owner).secret)
    client = api_client(issue(owner, kind="sandbox").secret)
    assert client.get("/api/v1/token").status_code == 200
    assert production.get("/api/v1/spreaders").status_code == 200
    assert not Terminal.objects.for_org(org, sandbox=True).exists()  # neither builds it

    terminals = client.get("/api/v1/terminals").json()["results"]

    assert [t["code"] for t in terminals] == ["SBX-N", "SBX-S"]
    serial = f"SBX{org.pk}-N01"
    assert client.get(f"/api/v1/spreaders/{serial}").status_code == 200
    telemetry = client.get(f"/api/v1/spreaders/{serial}/telemetry?resolution=raw")
    assert telemetry.status_code == 200, telemetry.json()
    assert production.get(f"/api/v1/spreaders/{serial}").status_code == 404
    assert len(production.get("/api/v1/terminals").json()["results"]) == 2


def test_sandbox_writes_touch_only_sandbox_rows(fleet, org, issue, owner, api_client):
    client = api_client(issue(owner, kind="sandbox").secret)
    alarm = client.get("/api/v1/alarms").json()["results"][0]
    serial = f"SBX{org.pk}-S02"

    acknowledged = client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge")
    logged = client.post(
        f"/api/v1/spreaders/{serial}/maintenance",
        data={"performed_at": "2026-01-01T10:00:00Z", "kind": "repair", "description": "Test"},
        format="json",
    )

    assert acknowledged.status_code == 200 and logged.status_code == 201, logged.json()
    assert Alarm.objects.get(pk=alarm["id"]).spreader.terminal.sandbox is True
    assert MaintenanceRecord.objects.filter(spreader__terminal__sandbox=False).count() == 3
    assert not Alarm.objects.filter(
        spreader__terminal__sandbox=False, acknowledged_at__isnull=False
    ).exists()


@pytest.mark.parametrize("path", ["/api/v1/terminals", "/api/v1/spreaders", "/api/v1/alarms"])
def test_a_sandbox_list_is_the_page_plus_one_exists(org, issue, owner, api_client, path):
    client = api_client(issue(owner, kind="sandbox").secret)
    client.get(path)  # builds the fleet

    with api_queries(2):  # the fleet's EXISTS, the page
        response = client.get(path)

    assert response.status_code == 200 and response.json()["results"]
