"""Anomaly findings in the portal: acknowledge and resolve them from the token page, a finding's
own page or the organisation's findings list, through telemetry.services."""

import itertools

import pytest
from django.urls import reverse

from telemetry.models import Anomaly
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

_windows = itertools.count(1)


def raise_finding(
    token=None, *, organization=None, rule=Anomaly.Rule.NEW_COUNTRY, severity="high", **fields
) -> Anomaly:
    """A finding as anomaly detection leaves it (each in its own window, so never a duplicate)."""
    return Anomaly.objects.create(
        rule=rule,
        severity=severity,
        token=token,
        organization=organization or token.organization,
        window=f"w{next(_windows)}",
        evidence=fields.pop("evidence", {"country": "BR", "requests": 3}),
        **fields,
    )


def act(client, anomaly, action, *, headers=None, **data):
    return client.post(
        reverse("finding", args=[anomaly.pk]), {"action": action, **data}, headers=headers
    )


# --- acting on a finding ----------------------------------------------------------------------


def test_the_owner_acknowledges_a_finding_with_a_note_and_it_is_audited(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    anomaly = raise_finding(token)
    back = reverse("token_detail", args=[token.pk])
    sign_in(client, owner)
    response = act(
        client,
        anomaly,
        "acknowledge",
        note="our new office in São Paulo",
        next=back,
        headers={"user-agent": "pytest-browser"},
    )
    assert response.status_code == 302 and response["Location"] == back
    anomaly.refresh_from_db()
    assert anomaly.state == "acknowledged" and anomaly.state_changed_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.ANOMALY_UPDATED)
    assert event.actor_user == owner and event.token == token and event.organization == org
    assert event.details["note"] == "our new office in São Paulo"
    assert event.details["from"] == "open" and event.details["to"] == "acknowledged"
    assert event.ip == "127.0.0.1" and event.user_agent == "pytest-browser"
    assert "Acknowledged: Used from a new country" in client.get(back).content.decode()


def test_an_org_admin_resolves_a_members_finding(client, owner, org_admin, org, sign_in, issue):
    anomaly = raise_finding(issue(owner, org).token)
    sign_in(client, org_admin)
    assert act(client, anomaly, "resolve").status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.state == "resolved"
    assert AuditEvent.objects.get(action="anomaly.updated").actor_user == org_admin


def test_an_acknowledged_finding_can_still_be_resolved(client, owner, org, sign_in, issue):
    anomaly = raise_finding(issue(owner, org).token)
    sign_in(client, owner)
    act(client, anomaly, "acknowledge")
    act(client, anomaly, "resolve", note="it was us")
    anomaly.refresh_from_db()
    assert anomaly.state == "resolved"
    changes = AuditEvent.objects.filter(action="anomaly.updated").order_by("id")
    assert [e.details["to"] for e in changes] == ["acknowledged", "resolved"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_member_gets_404_and_changes_nothing(
    client, owner, member, org, sign_in, issue, method
):
    anomaly = raise_finding(issue(owner, org).token)
    sign_in(client, member)
    response = getattr(client, method)(
        reverse("finding", args=[anomaly.pk]), {"action": "resolve"} if method == "post" else {}
    )
    assert response.status_code == 404
    anomaly.refresh_from_db()
    assert anomaly.state == "open"
    assert not AuditEvent.objects.filter(action="anomaly.updated").exists()


def test_an_admin_of_another_organisation_gets_404(client, owner, org, other_org, sign_in, issue):
    from tests.conftest import make_user

    foreign_admin = make_user("admin@antwerp.example", other_org, "admin")
    anomaly = raise_finding(issue(owner, org).token)
    assert act(sign_in(client, foreign_admin), anomaly, "resolve").status_code == 404
    anomaly.refresh_from_db()
    assert anomaly.state == "open"


def test_a_finding_about_no_token_is_for_the_organisations_admins_only(
    client, org_admin, member, org, sign_in
):
    anomaly = raise_finding(
        organization=org, rule=Anomaly.Rule.FAILED_AUTH_BURST, subject="203.0.113.9"
    )
    assert act(sign_in(client, member), anomaly, "resolve").status_code == 404
    response = act(sign_in(client, org_admin), anomaly, "resolve")
    assert response["Location"] == reverse("finding", args=[anomaly.pk])
    anomaly.refresh_from_db()
    assert anomaly.state == "resolved"


def test_anonymous_visitors_are_sent_to_sign_in(client, owner, org, issue):
    anomaly = raise_finding(issue(owner, org).token)
    response = act(client, anomaly, "resolve")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    anomaly.refresh_from_db()
    assert anomaly.state == "open"


def test_acting_on_a_finding_needs_a_csrf_token(csrf_client, owner, org, sign_in, issue):
    anomaly = raise_finding(issue(owner, org).token)
    assert act(sign_in(csrf_client, owner), anomaly, "resolve").status_code == 403
    anomaly.refresh_from_db()
    assert anomaly.state == "open"


def test_acknowledging_a_resolved_finding_is_refused_with_a_reason(
    client, owner, org, sign_in, issue
):
    anomaly = raise_finding(issue(owner, org).token, state=Anomaly.State.RESOLVED)
    response = act(sign_in(client, owner), anomaly, "acknowledge")
    assert response.status_code == 409
    assert "already resolved" in response.content.decode()
    anomaly.refresh_from_db()
    assert anomaly.state == "resolved"


def test_a_second_click_changes_nothing_and_logs_nothing(client, owner, org, sign_in, issue):
    anomaly = raise_finding(issue(owner, org).token)
    sign_in(client, owner)
    act(client, anomaly, "resolve")
    response = act(client, anomaly, "resolve")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="anomaly.updated").count() == 1
    html = client.get(response["Location"]).content.decode()
    assert "That finding was already resolved" in html


@pytest.mark.parametrize(
    "data",
    [{"action": "delete"}, {}, {"action": "resolve", "note": "x" * 501}],
    ids=["unknown action", "no action", "note too long"],
)
def test_bad_input_is_a_400_that_changes_nothing(client, owner, org, sign_in, issue, data):
    anomaly = raise_finding(issue(owner, org).token)
    response = sign_in(client, owner).post(reverse("finding", args=[anomaly.pk]), data)
    assert response.status_code == 400
    anomaly.refresh_from_db()
    assert anomaly.state == "open"


def test_going_back_never_leaves_the_site(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    anomaly = raise_finding(token)
    response = act(sign_in(client, owner), anomaly, "resolve", next="https://evil.example/")
    assert response["Location"] == reverse("token_detail", args=[token.pk])


def test_acting_on_a_finding_takes_a_fixed_number_of_queries(
    client, owner, org, sign_in, issue, django_assert_num_queries
):
    anomaly = raise_finding(issue(owner, org).token)
    sign_in(client, owner)
    # session, user, the finding (+token, owner, organisations) checked for access,
    # savepoint, the state update, the audit event (+ lock and move its chain head, and the
    # webhooks' look-up of endpoints subscribed to it: issue 18), release
    with django_assert_num_queries(10):
        response = act(client, anomaly, "acknowledge", note="looking")
    assert response.status_code == 302


# --- where findings show up ---------------------------------------------------------------------


def test_the_finding_page_shows_the_evidence_and_the_buttons(client, owner, org, sign_in, issue):
    evidence = {
        "country": "BR",
        "left_at": "2026-11-29T02:36:13.5+00:00",
        "bad": "2026-13-45T00:00",
    }
    anomaly = raise_finding(issue(owner, org).token, evidence=evidence)
    html = sign_in(client, owner).get(reverse("finding", args=[anomaly.pk])).content.decode()
    assert "Used from a new country" in html and "High severity" in html
    assert "<dt>Country</dt><dd>BR</dd>" in html
    assert "<dt>Left at</dt><dd>29 Nov 2026, 02:36 UTC</dd>" in html
    assert "<dt>Bad</dt><dd>2026-13-45T00:00</dd>" in html  # shaped like a moment, shown as is
    assert 'value="acknowledge"' in html and 'value="resolve"' in html
    assert html.count("csrfmiddlewaretoken") == html.count('<form method="post"')


def test_the_token_page_offers_acknowledge_and_resolve_on_each_unresolved_finding(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    raise_finding(token, rule=Anomaly.Rule.NEW_COUNTRY)
    raise_finding(token, rule=Anomaly.Rule.VOLUME_SPIKE, state=Anomaly.State.ACKNOWLEDGED)
    raise_finding(token, rule=Anomaly.Rule.NEW_IP, state=Anomaly.State.RESOLVED)
    html = sign_in(client, owner).get(reverse("token_detail", args=[token.pk])).content.decode()
    assert "Used from a new country" in html and "Request volume spike" in html
    assert "New IP address" not in html  # resolved: done with
    assert html.count('value="acknowledge"') == 1  # the acknowledged one can only be resolved
    assert html.count('value="resolve"') == 2
    assert "Acknowledged" in html  # its state in words, not colour


def test_the_token_page_query_count_does_not_grow_with_findings(
    client, owner, org, sign_in, issue, django_assert_num_queries
):
    token = issue(owner, org).token
    for _ in range(5):
        raise_finding(token)
    sign_in(client, owner)
    # session, user, token, daily usage, recent requests, sightings, findings, policy
    with django_assert_num_queries(8):
        response = client.get(reverse("token_detail", args=[token.pk]))
    assert response.content.decode().count('value="resolve"') == 5


def test_an_org_admin_sees_every_finding_of_the_organisation_and_no_other(
    client, org_admin, owner, member, outsider, org, other_org, sign_in, issue
):
    raise_finding(issue(owner, org, name="owner's").token)
    raise_finding(issue(member, org, name="member's").token)
    raise_finding(organization=org, rule=Anomaly.Rule.FAILED_AUTH_BURST, subject="203.0.113.9")
    raise_finding(issue(outsider, other_org, name="foreign").token)
    response = sign_in(client, org_admin).get(reverse("org_findings", args=[org.slug]))
    html = response.content.decode()
    assert len(response.context["page"]) == 3
    assert "owner&#x27;s" in html and "member&#x27;s" in html and "203.0.113.9" in html
    assert "foreign" not in html


def test_a_member_sees_only_their_own_tokens_findings(client, owner, member, org, sign_in, issue):
    mine = raise_finding(issue(owner, org, name="mine").token)
    raise_finding(issue(member, org, name="theirs").token)
    raise_finding(organization=org, rule=Anomaly.Rule.FAILED_AUTH_BURST, subject="203.0.113.9")
    response = sign_in(client, owner).get(reverse("org_findings", args=[org.slug]))
    assert list(response.context["page"]) == [mine]
    assert "Findings about your tokens" in response.content.decode()


def test_an_outsider_gets_404_for_the_findings_list(client, outsider, org, sign_in):
    response = sign_in(client, outsider).get(reverse("org_findings", args=[org.slug]))
    assert response.status_code == 404


def test_the_findings_list_filters_by_state(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    open_ = raise_finding(token)
    acknowledged = raise_finding(token, state=Anomaly.State.ACKNOWLEDGED)
    resolved = raise_finding(token, state=Anomaly.State.RESOLVED)
    sign_in(client, owner)
    url = reverse("org_findings", args=[org.slug])

    def shown(**query):
        return set(client.get(url, query).context["page"])

    assert shown() == {open_, acknowledged}  # the default: what still needs someone
    assert shown(state="open") == {open_}
    assert shown(state="resolved") == {resolved}
    assert shown(state="all") == {open_, acknowledged, resolved}
    assert shown(state="nonsense") == {open_, acknowledged}


def test_the_findings_list_query_count_does_not_grow_with_findings(
    client, org_admin, owner, org, sign_in, issue, django_assert_num_queries
):
    token = issue(owner, org).token
    for _ in range(8):
        raise_finding(token)
    sign_in(client, org_admin)
    # session, user, membership (+organisation), count, a page of findings (+tokens, owners)
    with django_assert_num_queries(5):
        response = client.get(reverse("org_findings", args=[org.slug]))
    assert response.content.decode().count('value="resolve"') == 8


def test_the_token_page_shows_the_latest_ten_findings_and_links_to_all_of_them(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    findings = [raise_finding(token) for _ in range(12)]
    raise_finding(token, state=Anomaly.State.RESOLVED)  # not counted: nothing left to do
    response = sign_in(client, owner).get(reverse("token_detail", args=[token.pk]))

    shown = response.context["anomalies"]
    assert [a.pk for a in shown] == [a.pk for a in reversed(findings)][:10]  # latest first
    assert response.context["anomaly_count"] == 12
    html = response.content.decode()
    assert "The latest 10 of 12 unresolved findings" in html
    assert f"{reverse('org_findings', args=[org.slug])}?token={token.pk}" in html


def test_the_token_page_says_nothing_more_when_every_finding_is_shown(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    for _ in range(10):
        raise_finding(token)
    response = sign_in(client, owner).get(reverse("token_detail", args=[token.pk]))
    assert len(response.context["anomalies"]) == 10
    assert "data-more-findings" not in response.content.decode()


def test_the_findings_list_narrows_to_one_token_and_a_bad_token_shows_the_default(
    client, org_admin, owner, member, org, other_org, outsider, sign_in, issue
):
    ours = issue(owner, org).token
    mine = raise_finding(ours)
    other = raise_finding(issue(member, org).token)
    foreign = issue(outsider, other_org).token
    raise_finding(foreign)
    sign_in(client, org_admin)
    url = reverse("org_findings", args=[org.slug])

    narrowed = client.get(url, {"token": ours.pk})
    assert list(narrowed.context["page"]) == [mine]
    assert "One token's findings only" in narrowed.content.decode()
    # Another organisation's token matches nothing here; nonsense is the default list.
    assert list(client.get(url, {"token": foreign.pk}).context["page"]) == []
    assert set(client.get(url, {"token": "abc"}).context["page"]) == {mine, other}
