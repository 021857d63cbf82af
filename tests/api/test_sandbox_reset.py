"""Issue 15: POST /api/v1/sandbox/reset restores a sandbox token's fixtures; nothing else."""

import pytest

from fleet.models import Alarm, MaintenanceRecord, Spreader, Terminal
from tests.api.test_sandbox_fleet import snapshot
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

RESET = "/api/v1/sandbox/reset"


@pytest.fixture
def sandbox_client(issue, owner, api_client):
    return api_client(issue(owner, kind="sandbox").secret)


def test_reset_restores_the_fixtures(fleet, org, sandbox_client):
    sandbox_client.get("/api/v1/terminals")  # first use builds the fleet
    first = snapshot(org)
    alarm = sandbox_client.get("/api/v1/alarms").json()["results"][0]
    assert sandbox_client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge").status_code == 200
    created = sandbox_client.post(
        f"/api/v1/spreaders/SBX{org.pk}-N01/maintenance",
        data={"performed_at": "2026-01-01T10:00:00Z", "kind": "repair", "description": "Test"},
        format="json",
    )
    assert created.status_code == 201
    assert snapshot(org) != first

    response = sandbox_client.post(RESET)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["terminals"] == 2 and body["spreaders"] == 6 and body["readings"] == 6 * 7 * 24
    assert body["anchored_at"].endswith("T00:00:00Z")
    assert snapshot(org) == first
    assert not Alarm.objects.filter(acknowledged_at__isnull=False).exists()
    # Production rows are untouched.
    assert [t.code for t in Terminal.objects.for_org(org)] == ["EMX", "RWG"]
    assert MaintenanceRecord.objects.filter(spreader__terminal__sandbox=False).count() == 3


def test_reset_is_an_audit_event(org, issue, owner, api_client):
    issued = issue(owner, kind="sandbox")

    api_client(issued.secret).post(RESET, HTTP_USER_AGENT="sandbox-test/1")

    event = AuditEvent.objects.get(action=AuditEvent.Action.SANDBOX_RESET)
    assert event.organization == org and event.token_id == issued.token.pk
    assert event.actor_kind == "token" and event.user_agent == "sandbox-test/1"
    assert event.details["readings"] == 6 * 7 * 24


def test_reset_builds_a_fleet_that_was_never_used(org, sandbox_client):
    assert sandbox_client.post(RESET).status_code == 200
    assert Terminal.objects.for_org(org, sandbox=True).count() == 2


def test_a_production_token_gets_sandbox_only(fleet, org, partner):
    before = Spreader.objects.count()

    response = partner.post(RESET)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "sandbox_only"
    assert "qgs_" in response.json()["detail"]
    assert Spreader.objects.count() == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SANDBOX_RESET).exists()


def test_reset_needs_maintenance_write(org, issue, owner, api_client):
    client = api_client(issue(owner, kind="sandbox", scopes=["fleet:read"]).secret)

    response = client.post(RESET)

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert not Terminal.objects.for_org(org, sandbox=True).exists()


def test_reset_touches_only_the_callers_organisation(
    org, other_org, owner, outsider, issue, api_client
):
    theirs = api_client(issue(outsider, organization=other_org, kind="sandbox").secret)
    theirs.get("/api/v1/terminals")
    their_rows = snapshot(other_org)
    Alarm.objects.filter(spreader__terminal__organization=other_org).update(
        message="changed by their tests"
    )
    changed = snapshot(other_org)

    ours = api_client(issue(owner, kind="sandbox").secret)
    assert ours.post(RESET).status_code == 200

    assert snapshot(other_org) == changed
    assert their_rows == changed  # the snapshot does not hold messages; rows were not rebuilt
    assert Alarm.objects.filter(message="changed by their tests").exists()


def test_get_is_not_allowed(sandbox_client):
    assert sandbox_client.get(RESET).status_code == 405
