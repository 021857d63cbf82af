"""GET /api/v1/audit-events: an organisation admin's token with audit:read reads its own
organisation's audit log, filtered and cursor-paged; nobody else does."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from tests.api.test_query_counts import api_queries
from tests.conftest import make_user
from tokens import audit_chain
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-events"


@pytest.fixture
def admin_client(issue, org_admin, api_client):
    issued = issue(org_admin, name="siem export", scopes=["audit:read"])
    return api_client(issued.secret)


def record(organization, action="policy.changed", label="ops-script", prefix="", **details):
    return token_services.record_audit_event(
        action=action,
        actor=Actor.system(label),
        organization=organization,
        token_prefix=prefix,
        details=details,
    )


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    return body


def test_an_admins_token_reads_its_organisations_events_newest_first(admin_client, org, other_org):
    record(other_org, label="elsewhere")
    ours = [record(org, n=n) for n in range(3)]

    response = admin_client.get(URL)

    assert response.status_code == 200
    results = response.json()["results"]
    ids = [event["id"] for event in results]
    # The token.created event of the admin's own token comes first (it was written first).
    assert ids[:3] == [ours[2].pk, ours[1].pk, ours[0].pk]
    assert all(event["organization_id"] == org.id for event in results)
    assert "elsewhere" not in {event["actor_label"] for event in results}


def test_each_event_verifies_from_the_json_alone(admin_client, org):
    record(org, note="Grüße", nested={"b": [1, 2.5], "a": None})
    results = admin_client.get(URL).json()["results"]
    assert len(results) == 2
    for newer, older in itertools.pairwise(results):
        assert newer["prev_hash"] == older["hash"]
    assert results[-1]["seq"] == 1 and results[-1]["prev_hash"] == "0" * 64
    for event in results:
        document = {key: event[key] for key in audit_chain.CANONICAL_FIELDS}
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == event["hash"]


def test_filters_narrow_the_log(admin_client, org):
    base = timezone.now()
    record(org, action="token.revoked", label="ada@rotterdam.example", prefix="qgp_AbC1")
    record(org, action="token.created", label="bob@rotterdam.example", prefix="qgp_ZzZ9")
    record(org, action="user.login", label="ADA@rotterdam.example")

    def actions(query: str) -> list[str]:
        response = admin_client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [event["action"] for event in response.json()["results"]]

    assert actions("action=token.revoked,user.login") == ["user.login", "token.revoked"]
    assert actions("actor=ada@rotterdam.example") == ["user.login", "token.revoked"]
    assert actions("token_prefix=qgp_ZzZ9") == ["token.created"]

    def moment(delta: timedelta) -> str:
        return (base + delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert actions(f"since={moment(timedelta(hours=1))}") == []
    assert actions(f"until={moment(-timedelta(hours=1))}") == []
    assert len(actions(f"since={moment(-timedelta(minutes=5))}&action=user.login")) == 1


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("action=token.stolen", "action", "invalid_choice"),
        ("token_prefix=qgp_", "token_prefix", "invalid_token_prefix"),
        ("token_prefix=qgp_AbC1XYZ", "token_prefix", "max_length"),
        ("since=yesterday", "since", "invalid"),
        ("until=1700000000", "until", "invalid"),
        ("since=2026-05-02T00:00:00Z&until=2026-05-01T00:00:00Z", "until", "invalid_range"),
        ("actor=", "actor", "blank"),
        ("acter=ada", "acter", "unknown_field"),
        ("cursor=bm9wZQ", "cursor", "invalid_cursor"),
    ],
)
def test_bad_filters_are_a_400_that_names_the_field(admin_client, query, field, code):
    body = problem(admin_client.get(f"{URL}?{query}"), 400, "validation_error")
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in body["errors"]
    ], body


def test_pages_follow_the_cursor_without_repeats_or_gaps(admin_client, org):
    for n in range(7):
        record(org, n=n)
    seen, url = [], f"{URL}?limit=3"
    while url:
        body = admin_client.get(url).json()
        seen += [event["seq"] for event in body["results"]]
        record(org, n="arrives meanwhile")  # new events do not shift the pages already read
        url = body["next"]
    assert seen == list(range(8, 0, -1))


def test_a_members_token_cannot_be_given_audit_read(issue, owner):
    from tokens.exceptions import TokenError

    with pytest.raises(TokenError) as refused:
        issue(owner, scopes=["audit:read"])
    assert refused.value.code == "scope_not_allowed"


def test_a_member_policy_cannot_open_audit_read_to_members(issue, owner, org, org_admin):
    token_services.update_token_policy(
        org, actor=Actor.for_user(org_admin), member_scopes=["fleet:read", "audit:read"]
    )
    from tokens.exceptions import TokenError

    with pytest.raises(TokenError):
        issue(owner, scopes=["audit:read"])


def test_a_token_whose_owner_is_no_longer_an_admin_gets_403(admin_client, org_admin, org):
    Membership.objects.filter(user=org_admin, organization=org).update(role="member")
    body = problem(admin_client.get(URL), 403, "admin_token_required")
    assert "admin" in body["detail"]


def test_a_token_without_the_scope_gets_403_insufficient_scope(issue, org_admin, api_client):
    client = api_client(issue(org_admin, scopes=["fleet:read"]).secret)
    response = client.get(URL)
    problem(response, 403, "insufficient_scope")
    assert 'scope="audit:read"' in response["WWW-Authenticate"]


def test_no_token_is_a_401(api_client):
    problem(api_client().get(URL), 401, "not_authenticated")


def test_an_admin_of_two_organisations_reads_only_the_tokens_organisation(
    issue, org, other_org, api_client
):
    both = make_user("both@example.com", org, Membership.Role.ADMIN)
    Membership.objects.create(user=both, organization=other_org, role=Membership.Role.ADMIN)
    record(other_org, label="antwerp only")
    client = api_client(issue(both, organization=org, scopes=["audit:read"]).secret)
    labels = {event["actor_label"] for event in client.get(URL).json()["results"]}
    assert "antwerp only" not in labels
    foreign = AuditEvent.objects.filter(organization=other_org).get()
    assert client.get(f"{URL}?token_prefix=qgp_AAAA").json()["results"] == []
    assert foreign.pk not in {e["id"] for e in client.get(URL).json()["results"]}


def test_a_sandbox_token_reads_no_production_events(issue, org_admin, api_client, org):
    record(org)
    sandbox = issue(org_admin, scopes=["audit:read"], kind="sandbox")
    response = api_client(sandbox.secret).get(URL)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_page_is_two_queries_whatever_its_length(admin_client, org, owner):
    for _n in range(30):
        token_services.record_audit_event(
            action="user.login", actor=Actor.for_user(owner, ip="192.0.2.9"), organization=org
        )
    admin_client.get(URL)

    with api_queries(2):  # is the owner an admin (the audit:read rule), then the page
        response = admin_client.get(f"{URL}?action=user.login&limit=25")
    assert len(response.json()["results"]) == 25

    cursor = response.json()["next"]
    with api_queries(2):
        assert admin_client.get(cursor).status_code == 200
