"""Issue 15: the API is an add-on. Entitlement per organisation, qgs_ sandbox tokens, the 403."""

import pytest

from accounts.models import Organization
from tokens import cache as token_cache
from tokens import format as token_format
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db


def _ops(ops_user=None) -> Actor:
    return Actor.cli("pytest ops")


def test_sandbox_token_format_and_kind():
    secret = token_format.generate("sandbox")
    assert secret.startswith("qgs_") and len(secret) == 40
    parsed = token_format.parse(secret)
    assert parsed is not None and parsed.kind == "sandbox"
    assert token_format.parse(token_format.generate()).kind == "production"
    corrupted = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert token_format.parse(corrupted) is None
    assert token_format.FAMILY_PATTERN.fullmatch(corrupted)


def _corrupt(secret: str) -> str:
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def test_bad_checksum_sandbox_token_costs_what_a_bad_qgp_costs(api_client):
    """Refused offline as a qgp_ is: the same queries (only the usage log's own write)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for kind in ("production", "sandbox"):
        with CaptureQueriesContext(connection) as queries:
            response = api_client(_corrupt(token_format.generate(kind))).get("/api/v1/token")
        assert response.status_code == 401
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_new_organisations_start_without_api_access():
    org = Organization.objects.create(name="New Port", slug="new-port")
    assert org.api_access == Organization.ApiAccess.NONE


def test_production_token_of_a_sandbox_org_gets_403(issue, owner, org, api_client):
    issued = issue(owner)
    assert api_client(issued.secret).get("/api/v1/token").status_code == 200
    assert services.set_api_access(org, level="sandbox", actor=_ops(), reason="trial")
    response = api_client(issued.secret).get("/api/v1/token")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "api_access_not_enabled"
    assert "production access" in body["detail"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_ACCESS_CHANGED)
    assert event.details == {"from": "production", "to": "sandbox", "reason": "trial"}
    # Nothing deleted: restoring the level brings the token back.
    services.set_api_access(org, level="production", actor=_ops(), reason="paid")
    assert api_client(issued.secret).get("/api/v1/token").status_code == 200


def test_sandbox_token_works_in_sandbox_org_and_none_refuses_both(issue, owner, org, api_client):
    services.set_api_access(org, level="sandbox", actor=_ops(), reason="trial")
    sandbox = issue(owner, kind="sandbox")
    assert sandbox.secret.startswith("qgs_")
    assert PersonalAccessToken.objects.get(pk=sandbox.token.pk).kind == "sandbox"
    assert api_client(sandbox.secret).get("/api/v1/token").status_code == 200
    services.set_api_access(org, level="none", actor=_ops(), reason="cancelled")
    response = api_client(sandbox.secret).get("/api/v1/token")
    assert response.status_code == 403
    assert response.json()["code"] == "api_access_not_enabled"


def test_set_api_access_refuses_unknown_level_and_missing_reason(org):
    from core.errors import ServiceError

    with pytest.raises(ServiceError):
        services.set_api_access(org, level="gold", actor=_ops(), reason="x")
    with pytest.raises(ServiceError):
        services.set_api_access(org, level="sandbox", actor=_ops(), reason=" ")
    assert services.set_api_access(org, level="production", actor=_ops(), reason="x") is False


def test_token_state_carries_kind_and_level_through_json():
    from tokens.state import TokenState

    state = TokenState(
        id=1,
        owner_id=2,
        organization_id=3,
        name="n",
        display_prefix="qgs_AbCd",
        scopes=(),
        terminal_ids=None,
        allowed_ips=(),
        expires_at=None,
        rate_limit_per_hour=10,
        kind="sandbox",
        org_access="sandbox",
    )
    again = TokenState.from_json(state.to_json())
    assert (again.kind, again.org_access) == ("sandbox", "sandbox")
    assert (
        token_cache.TokenState.from_json(
            '{"id":1,"o":2,"g":3,"n":"n","p":"p","s":[],"t":null,"ip":[],"x":null,"r":1,"v":null}'
        ).org_access
        == "production"
    )


def test_sandbox_token_never_reads_production_rows(fleet, issue, owner, org, api_client):
    """The fleet the org's production tokens see is invisible to its sandbox token: no list
    holds a production row, every production object is "not found" (as a foreign one), no
    write reaches a row."""
    serial = fleet.emx_spreader.serial_number
    production = api_client(issue(owner).secret)
    assert production.get(f"/api/v1/spreaders/{serial}").status_code == 200
    services.set_api_access(org, level="sandbox", actor=_ops(), reason="trial")
    client = api_client(issue(owner, kind="sandbox").secret)
    for listing in ("terminals", "spreaders", "alarms", "maintenance"):
        response = client.get(f"/api/v1/{listing}")
        assert response.status_code == 200, listing
        text = str(response.json()["results"])
        assert "EMX" not in text and "RWG" not in text and "ANT" not in text, listing
    assert client.get(f"/api/v1/spreaders/{serial}").status_code == 404
    assert client.get(f"/api/v1/spreaders/{serial}/telemetry").status_code == 404
    acknowledged = client.post(f"/api/v1/alarms/{fleet.emx_alarm.pk}/acknowledge")
    assert acknowledged.status_code == 404
    fleet.emx_alarm.refresh_from_db()
    assert fleet.emx_alarm.acknowledged_at is None
