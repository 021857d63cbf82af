"""Finding things during an incident: tokens by prefix, owner or organisation; audit events by
prefix, email or IP; and a whole token pasted into a search box never stays in a URL."""

import uuid

import pytest
from django.urls import reverse

from telemetry.models import UsageRecord
from tokens import services as token_services
from tokens.actors import Actor

pytestmark = pytest.mark.django_db

TOKENS = reverse("admin:tokens_personalaccesstoken_changelist")
AUDIT = reverse("admin:tokens_auditevent_changelist")
USAGE = reverse("admin:telemetry_usagerecord_changelist")


def listed(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.fixture
def two_tokens(issue, outsider, other_org):
    mine = issue(name="rotterdam sync")
    theirs = token_services.issue_token(
        owner=outsider,
        organization=other_org,
        name="antwerp sync",
        scopes=["fleet:read"],
        actor=Actor.system("tests"),
    ).token
    return mine, theirs


@pytest.mark.parametrize(
    "term",
    [
        lambda mine: mine.display_prefix,
        lambda mine: mine.owner.email,
        lambda mine: "owner@rotterdam",
        lambda mine: "Rotterdam",
    ],
)
def test_tokens_are_found_by_prefix_owner_or_organisation(ops_client, two_tokens, term):
    mine, _ = two_tokens
    response = ops_client.get(TOKENS, {"q": term(mine)})
    assert listed(response) == [mine]


def test_tokens_filter_by_state(ops_client, two_tokens, ops):
    mine, theirs = two_tokens
    token_services.revoke_token(theirs, actor=Actor.for_ops(ops), reason="test")
    assert listed(ops_client.get(TOKENS, {"state": "revoked"})) == [theirs]
    assert listed(ops_client.get(TOKENS, {"state": "active"})) == [mine]


def test_audit_events_are_found_by_prefix_email_and_ip(ops_client, two_tokens, ops):
    mine, _ = two_tokens
    token_services.revoke_token(
        mine, actor=Actor.for_ops(ops, ip="203.0.113.9"), reason="incident 42"
    )

    by_prefix = listed(ops_client.get(AUDIT, {"q": mine.display_prefix}))
    assert {event.action for event in by_prefix} == {"token.created", "token.revoked"}
    assert all(event.token_id == mine.pk for event in by_prefix)

    by_ip = listed(ops_client.get(AUDIT, {"q": "203.0.113.9"}))
    assert [event.action for event in by_ip] == ["token.revoked"]

    # An email finds what that person did and what happened to their tokens.
    by_owner = listed(ops_client.get(AUDIT, {"q": mine.owner.email}))
    assert {event.token_id for event in by_owner} == {mine.pk}
    by_ops = listed(ops_client.get(AUDIT, {"q": ops.email}))
    assert [event.action for event in by_ops] == ["token.revoked"]


def test_an_unknown_email_finds_nothing_rather_than_everything(ops_client, two_tokens):
    assert listed(ops_client.get(AUDIT, {"q": "nobody@nowhere.example"})) == []


def test_audit_events_filter_by_action_and_organisation(ops_client, two_tokens, other_org):
    response = ops_client.get(
        AUDIT, {"action__exact": "token.created", "organization__id__exact": other_org.pk}
    )
    assert [event.token_id for event in listed(response)] == [two_tokens[1].pk]


def test_the_token_page_links_to_its_audit_and_usage_logs(ops_client, two_tokens):
    mine, theirs = two_tokens
    for token in (mine, theirs):
        UsageRecord.objects.create(
            request_id=uuid.uuid4(),
            token=token,
            organization_id=token.organization_id,
            token_prefix=token.display_prefix,
            method="GET",
            route="api/v1/spreaders/",
            path="/api/v1/spreaders/",
            status=200,
            latency_ms=2.0,
        )
    page = ops_client.get(reverse("admin:tokens_personalaccesstoken_change", args=[mine.pk]))
    assert f"{AUDIT}?token={mine.pk}".encode() in page.content
    assert f"{USAGE}?token={mine.pk}".encode() in page.content

    audit = ops_client.get(AUDIT, {"token": mine.pk})
    assert {event.token_id for event in listed(audit)} == {mine.pk}
    usage = ops_client.get(USAGE, {"token": mine.pk})
    assert [record.token_id for record in listed(usage)] == [mine.pk]
    assert str(mine).encode() in usage.content  # the filter shows what it narrows to


def test_a_pasted_secret_leaves_the_url_at_once_for_its_token(ops_client, owner, org):
    issued = token_services.issue_token(
        owner=owner, organization=org, name="pasted", scopes=["fleet:read"], actor=Actor.cli()
    )
    response = ops_client.get(TOKENS, {"q": issued.secret})
    assert response.status_code == 302
    assert issued.secret not in response["Location"]
    assert response["Location"] == reverse(
        "admin:tokens_personalaccesstoken_change", args=[issued.token.pk]
    )
    page = ops_client.get(response["Location"])
    assert issued.secret.encode() not in page.content
    assert b"That was a whole token" in page.content


@pytest.mark.parametrize("url", [AUDIT, USAGE])
def test_a_pasted_secret_becomes_a_prefix_search_in_the_logs(ops_client, owner, org, url):
    issued = token_services.issue_token(
        owner=owner, organization=org, name="pasted", scopes=["fleet:read"], actor=Actor.cli()
    )
    response = ops_client.get(url, {"q": issued.secret, "p": "1"})
    assert response.status_code == 302
    assert issued.secret not in response["Location"]
    assert f"q={issued.token.display_prefix}" in response["Location"]
    assert "p=1" in response["Location"]  # the rest of the query string is kept


def test_no_secret_hash_or_secret_model_is_in_admin(super_client):
    index = super_client.get(reverse("admin:index"))
    assert b"personalaccesstoken" in index.content.lower()
    assert b"tokensecret" not in index.content.lower()
