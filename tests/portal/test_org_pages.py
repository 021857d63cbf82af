"""Organisation pages: every token and the policy for org admins, the audit log for members."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, TokenPolicy

pytestmark = pytest.mark.django_db


def policy_data(**overrides) -> dict:
    data = {
        "max_lifetime_days": "30",
        "member_scopes": ["fleet:read", "telemetry:read"],
        "default_rate_limit_per_hour": "1000",
        "revoke_unused_after_days": "",
    }
    data.update(overrides)
    return data


# --- who sees what ----------------------------------------------------------------------------


def test_the_organisation_link_leads_admins_to_tokens_and_members_to_the_audit_log(
    client, org_admin, member, org, sign_in
):
    sign_in(client, org_admin)
    response = client.get(reverse("organizations"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("org_tokens", args=[org.slug])
    sign_in(client, member)
    response = client.get(reverse("organizations"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("org_audit", args=[org.slug])


@pytest.mark.parametrize("page", ["org_tokens", "org_policy"])
def test_members_get_404_on_the_admin_pages(client, member, org, page, sign_in):
    assert sign_in(client, member).get(reverse(page, args=[org.slug])).status_code == 404


@pytest.mark.parametrize("page", ["organization", "org_tokens", "org_policy", "org_audit"])
def test_people_outside_the_organisation_get_404(client, outsider, org, page, sign_in):
    assert sign_in(client, outsider).get(reverse(page, args=[org.slug])).status_code == 404


def test_an_org_admin_sees_every_token_of_the_organisation_with_revoke(
    client, org_admin, owner, member, outsider, org, other_org, sign_in, issue
):
    mine = issue(owner, org, name="owner's sync").token
    theirs = issue(member, org, name="member's sync").token
    foreign = issue(outsider, other_org, name="foreign sync").token
    html = sign_in(client, org_admin).get(reverse("org_tokens", args=[org.slug])).content.decode()
    for token in (mine, theirs):
        assert reverse("token_revoke", args=[token.pk]) in html
    assert "foreign sync" not in html and reverse("token_detail", args=[foreign.pk]) not in html


def test_org_token_list_query_count_does_not_grow_with_tokens(
    client, org_admin, owner, member, org, django_assert_num_queries, sign_in, issue
):
    for number in range(4):
        issue(owner, org, name=f"o{number}")
        issue(member, org, name=f"m{number}")
    services.policy_for(org)
    sign_in(client, org_admin)
    # session, user, membership (+organisation), count, a page of tokens (+owners), policy
    with django_assert_num_queries(6):
        response = client.get(reverse("org_tokens", args=[org.slug]))
    assert response.content.decode().count("Revoke…") == 8


# --- policy -----------------------------------------------------------------------------------


def test_an_org_admin_changes_the_policy_through_the_service(client, org_admin, org, sign_in):
    response = sign_in(client, org_admin).post(
        reverse("org_policy", args=[org.slug]), policy_data(require_ip_allowlist="on")
    )
    assert response.status_code == 302
    policy = TokenPolicy.objects.get(organization=org)
    assert policy.max_lifetime_days == 30 and policy.require_ip_allowlist
    assert policy.member_scopes == ["fleet:read", "telemetry:read"]
    event = AuditEvent.objects.get(action="policy.changed")
    assert event.actor_user == org_admin and event.details["max_lifetime_days"]["to"] == 30


def test_a_policy_value_out_of_range_gets_the_services_message(client, org_admin, org, sign_in):
    response = sign_in(client, org_admin).post(
        reverse("org_policy", args=[org.slug]), policy_data(max_lifetime_days="0")
    )
    assert response.status_code == 400
    assert "The longest lifetime is 1 to" in response.content.decode()
    assert services.policy_for(org).max_lifetime_days == 90


def test_changing_the_policy_needs_a_recent_password(client, org_admin, org, sign_in):
    sign_in(client, org_admin, fresh_password=False)
    response = client.post(reverse("org_policy", args=[org.slug]), policy_data())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("sudo"))
    assert services.policy_for(org).max_lifetime_days == 90


def test_the_policy_page_shows_the_current_policy(client, org_admin, org, sign_in):
    services.update_token_policy(org, actor=Actor.system(), max_lifetime_days=45)
    html = sign_in(client, org_admin).get(reverse("org_policy", args=[org.slug])).content.decode()
    assert 'value="45"' in html


# --- audit log --------------------------------------------------------------------------------


def test_members_read_their_organisations_audit_log_only(
    client, owner, member, outsider, org, other_org, sign_in, issue
):
    issue(owner, org, name="ours")
    issue(outsider, other_org, name="theirs")
    html = sign_in(client, member).get(reverse("org_audit", args=[org.slug])).content.decode()
    assert "ours" in html and owner.email in html
    assert "theirs" not in html and outsider.email not in html


def test_the_audit_log_filters_by_actor_action_and_date(client, owner, member, org, sign_in, issue):
    token = issue(owner, org, name="a").token
    issue(member, org, name="b")
    services.revoke_token(token, actor=Actor.for_user(owner), reason="done")
    sign_in(client, member)
    url = reverse("org_audit", args=[org.slug])

    page = client.get(url, {"actor": owner.email}).context["page"]
    assert {e.actor_label for e in page} == {owner.email}
    page = client.get(url, {"action": "token.revoked"}).context["page"]
    assert [e.action for e in page] == ["token.revoked"]
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert not client.get(url, {"since": tomorrow}).context["page"].object_list
    today = timezone.now().date().isoformat()
    assert len(client.get(url, {"since": today, "until": today}).context["page"]) == 3


def test_bad_audit_filters_show_the_log_unfiltered_instead_of_failing(
    client, member, owner, org, sign_in, issue
):
    issue(owner, org)
    response = sign_in(client, member).get(
        reverse("org_audit", args=[org.slug]),
        {"since": "not-a-date", "action": "nope", "page": "x"},
    )
    assert response.status_code == 200
    assert len(response.context["page"]) == 1


def test_the_audit_log_is_paginated_with_a_fixed_query_count(
    client, member, org, django_assert_num_queries, sign_in
):
    actor = Actor.system("test")
    for _ in range(60):
        services.record_audit_event(action="policy.changed", actor=actor, organization=org)
    sign_in(client, member)
    url = reverse("org_audit", args=[org.slug])
    # session, user, membership, membership check, count, page of events, member emails,
    # the audit chain head (issue 18)
    with django_assert_num_queries(8):
        first = client.get(url)
    assert len(first.context["page"]) == 50 and "Older →" in first.content.decode()
    second = client.get(url, {"page": 2})
    assert len(second.context["page"]) == 10 and "← Newer" in second.content.decode()


def test_pagination_links_keep_the_filters(client, member, org, sign_in):
    actor = Actor.system("test")
    for _ in range(55):
        services.record_audit_event(action="policy.changed", actor=actor, organization=org)
    html = (
        sign_in(client, member)
        .get(reverse("org_audit", args=[org.slug]), {"action": "policy.changed"})
        .content.decode()
    )
    assert "?action=policy.changed&amp;page=2" in html
