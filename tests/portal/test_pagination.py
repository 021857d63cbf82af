"""Long lists page 50 rows at a time with a fixed number of queries: an organisation's tokens,
its audit log and its findings. The row count is capped, so a huge audit log is never counted
in full."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.views import paging
from telemetry.models import Anomaly
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db

ROWS = 120


def many_tokens(owner, org, count: int = ROWS, **fields) -> list[PersonalAccessToken]:
    """Tokens as rows (test data): the service's audit events and emails would only slow this."""
    now = timezone.now()
    return PersonalAccessToken.objects.bulk_create(
        PersonalAccessToken(
            owner=owner,
            organization=org,
            name=f"token {number:03}",
            display_prefix=f"qgp_{number:04}",
            scopes=["fleet:read"],
            created_at=now - timedelta(minutes=number),
            expires_at=now + timedelta(days=30),
            **fields,
        )
        for number in range(count)
    )


def many_events(org, count: int = ROWS) -> None:
    actor = Actor.system("test")
    for _ in range(count):
        services.record_audit_event(action="policy.changed", actor=actor, organization=org)


# --- the organisation's tokens ----------------------------------------------------------------


def test_the_token_list_shows_50_a_page_with_the_same_queries_on_every_page(
    client, org_admin, owner, org, sign_in, django_assert_num_queries
):
    many_tokens(owner, org)
    services.policy_for(org)
    sign_in(client, org_admin)
    url = reverse("org_tokens", args=[org.slug])
    pages = {}
    for number in (1, 2, 3):
        # session, user, membership (+organisation), count, a page of tokens (+owners), policy
        with django_assert_num_queries(6):
            pages[number] = client.get(url, {"page": number})
    assert [len(pages[n].context["page"]) for n in (1, 2, 3)] == [50, 50, 20]
    first = pages[1].content.decode()
    assert "120 tokens" in first and "Page 1 of 3" in first and "Next →" in first
    assert first.count("Revoke…") == 50
    shown = [t.name for n in (1, 2, 3) for t in pages[n].context["page"]]
    assert shown == [f"token {number:03}" for number in range(ROWS)]  # newest first, none twice


def test_live_tokens_come_before_revoked_ones_on_every_database(
    client, org_admin, owner, org, sign_in
):
    many_tokens(owner, org, count=3, revoked_at=timezone.now())
    live = PersonalAccessToken.objects.create(
        owner=owner,
        organization=org,
        name="the live one",
        display_prefix="qgp_LIVE",
        scopes=["fleet:read"],
        created_at=timezone.now() - timedelta(days=365),  # older than every revoked one
    )
    page = sign_in(client, org_admin).get(reverse("org_tokens", args=[org.slug])).context["page"]
    assert page[0] == live


def test_a_page_past_the_end_shows_the_last_page_and_nonsense_the_first(
    client, org_admin, owner, org, sign_in
):
    many_tokens(owner, org)
    sign_in(client, org_admin)
    url = reverse("org_tokens", args=[org.slug])
    assert client.get(url, {"page": 99}).context["page"].number == 3
    assert client.get(url, {"page": "x"}).context["page"].number == 1
    assert client.get(url, {"page": "-1"}).context["page"].number == 3


def test_the_token_list_finds_by_name_owner_and_prefix_and_filters_by_status(
    client, org_admin, owner, member, org, sign_in
):
    many_tokens(owner, org, count=5)
    theirs = many_tokens(member, org, count=1)[0]
    PersonalAccessToken.objects.filter(pk=theirs.pk).update(
        name="Crane export", display_prefix="qgp_CrX9", revoked_at=timezone.now()
    )
    sign_in(client, org_admin)
    url = reverse("org_tokens", args=[org.slug])

    def names(**query) -> list[str]:
        return [t.name for t in client.get(url, query).context["page"]]

    assert names(q="crane") == ["Crane export"]
    assert names(q=member.email) == ["Crane export"]
    assert names(q="Mia") == ["Crane export"]  # the owner's name
    assert names(q="qgp_CrX9…") == ["Crane export"]  # as the page shows it, ellipsis and all
    assert names(status="revoked") == ["Crane export"]
    assert len(names(status="live")) == 5
    assert len(names(status="nonsense")) == 6  # a bad filter shows the whole list


def test_paging_keeps_the_search(client, org_admin, owner, org, sign_in):
    many_tokens(owner, org)
    html = (
        sign_in(client, org_admin)
        .get(reverse("org_tokens", args=[org.slug]), {"q": "token", "status": "live"})
        .content.decode()
    )
    assert "?q=token&amp;status=live&amp;page=2" in html


def test_revoking_from_a_later_page_comes_back_to_it(client, org_admin, owner, org, sign_in):
    many_tokens(owner, org)
    sign_in(client, org_admin)
    url = reverse("org_tokens", args=[org.slug])
    page = client.get(url, {"page": 2})
    token = page.context["page"][0]
    assert f"?next={url}%3Fpage%3D2" in page.content.decode()
    response = client.post(
        reverse("token_revoke", args=[token.pk]), {"reason": "", "next": f"{url}?page=2"}
    )
    assert response["Location"] == f"{url}?page=2"


def test_a_whole_token_pasted_into_the_search_leaves_the_url_at_once(
    client, org_admin, owner, org, sign_in, issue
):
    issued = issue(owner, org, name="pasted")
    url = reverse("org_tokens", args=[org.slug])
    response = sign_in(client, org_admin).get(url, {"q": issued.secret, "status": "live"})
    assert response.status_code == 302
    assert issued.secret not in response["Location"]
    followed = client.get(response["Location"])
    assert [t.name for t in followed.context["page"]] == ["pasted"]
    assert "That was a whole token, which is a secret" in followed.content.decode()


def test_the_count_is_capped_so_a_huge_list_is_never_counted_in_full(
    client, org_admin, owner, org, sign_in, monkeypatch
):
    monkeypatch.setattr(paging, "COUNT_CAP", 100)
    many_tokens(owner, org)
    sign_in(client, org_admin)
    url = reverse("org_tokens", args=[org.slug])
    first = client.get(url).content.decode()
    assert "100+ tokens" in first and "Page 1 of 2+" in first
    last = client.get(url, {"page": 2}).content.decode()
    assert "narrow the list with the filters above" in last


# --- the audit log ------------------------------------------------------------------------------


def test_the_audit_log_shows_50_a_page_with_the_same_queries_on_every_page(
    client, member, org, sign_in, django_assert_num_queries
):
    many_events(org)
    sign_in(client, member)
    url = reverse("org_audit", args=[org.slug])
    sizes = []
    for number in (1, 2, 3):
        # session, user, membership, membership check, count, a page of events, member emails,
        # the chain head shown on the page (issue 18)
        with django_assert_num_queries(8):
            response = client.get(url, {"page": number})
        sizes.append(len(response.context["page"]))
    assert sizes == [50, 50, 20]
    assert "120 events" in response.content.decode()
    assert "Page 3 of 3" in response.content.decode()


def test_a_whole_token_pasted_into_the_actor_filter_leaves_the_url_at_once(
    client, member, owner, org, sign_in, issue
):
    issued = issue(owner, org)
    url = reverse("org_audit", args=[org.slug])
    response = sign_in(client, member).get(url, {"actor": issued.secret})
    assert response.status_code == 302 and issued.secret not in response["Location"]
    assert issued.token.display_prefix in response["Location"]


def test_the_audit_log_count_is_capped(client, member, org, sign_in, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_CAP", 100)
    many_events(org)
    html = sign_in(client, member).get(reverse("org_audit", args=[org.slug])).content.decode()
    assert "100+ events" in html


# --- findings -----------------------------------------------------------------------------------


def test_the_findings_list_shows_50_a_page_with_the_same_queries_on_every_page(
    client, org_admin, owner, org, sign_in, issue, django_assert_num_queries
):
    token = issue(owner, org).token
    Anomaly.objects.bulk_create(
        Anomaly(rule="new_ip", severity="low", token=token, organization=org, window=f"w{n}")
        for n in range(ROWS)
    )
    sign_in(client, org_admin)
    url = reverse("org_findings", args=[org.slug])
    sizes = []
    for number in (1, 3):
        # session, user, membership (+organisation), count, a page of findings (+tokens, owners)
        with django_assert_num_queries(5):
            sizes.append(len(client.get(url, {"page": number}).context["page"]))
    assert sizes == [50, 20]


def test_no_events_means_no_pagination(client, member, org, sign_in):
    html = sign_in(client, member).get(reverse("org_audit", args=[org.slug])).content.decode()
    assert 'class="pagination"' not in html
    assert not AuditEvent.objects.filter(organization=org).exists()
