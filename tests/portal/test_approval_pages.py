"""Issue 17 in the portal: the justification on the create form, the policy's approval setting,
and the admins' Requests tab (approve or deny with a note)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership
from notifications.models import Notification
from tests.conftest import make_user
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import InvalidInput
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy

pytestmark = pytest.mark.django_db

WHY = "The SAP connector acknowledges alarms for berth 4."


def require_approval(org, mode: str = "write") -> None:
    services.update_token_policy(org, actor=Actor.system(), require_approval=mode)


def request_token(issue, user, org, name: str = "SAP feed", scopes=("alarms:write",), **kwargs):
    kwargs.setdefault("justification", WHY)
    return issue(user, org, name=name, scopes=scopes, **kwargs)


def api_status(secret: str) -> tuple[int, str | None]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.get("/api/v1/token")
    return response.status_code, response.json().get("code")


def requests_url(org) -> str:
    return reverse("org_requests", args=[org.slug])


def request_url(org, token) -> str:
    return reverse("org_request", args=[org.slug, token.pk])


@pytest.fixture
def other_admin(other_org):
    return make_user("admin@antwerp.example", other_org, Membership.Role.ADMIN)


# --- the create form --------------------------------------------------------------------------


def test_the_form_says_before_submission_that_write_tokens_need_approval(
    client, member, org, sign_in
):
    require_approval(org, "write")
    html = sign_in(client, member).get(reverse("token_new")).content.decode()
    assert "requires an admin's approval for tokens with a write scope" in html
    assert 'name="justification"' in html
    assert "Required when you choose a write scope" in html


def test_the_form_says_every_token_needs_approval_under_all(client, member, org, sign_in):
    require_approval(org, "all")
    html = sign_in(client, member).get(reverse("token_new")).content.decode()
    assert "requires an admin's approval for every member's token" in html


@pytest.mark.parametrize("mode", ["off", "all"])
def test_no_justification_field_when_none_can_be_needed(
    client, member, org_admin, org, sign_in, mode
):
    require_approval(org, mode)
    user = member if mode == "off" else org_admin  # admins' own tokens never wait
    html = sign_in(client, user).get(reverse("token_new")).content.decode()
    assert 'name="justification"' not in html and "requires an admin's approval" not in html


def test_a_write_token_without_justification_is_refused_with_the_services_message(
    client, member, org, sign_in, new_token_data
):
    require_approval(org, "write")
    response = sign_in(client, member).post(reverse("token_new"), new_token_data())
    assert response.status_code == 400
    assert "Say why you need this token" in response.content.decode()
    assert not PersonalAccessToken.objects.exists()


def test_a_justification_of_10000_characters_is_rejected_with_a_message(
    client, member, org, sign_in, new_token_data
):
    require_approval(org, "write")
    response = sign_in(client, member).post(
        reverse("token_new"), new_token_data(justification="x" * 10_000)
    )
    assert response.status_code == 400
    assert "at most 2000 characters" in response.content.decode()
    assert not PersonalAccessToken.objects.exists()


def test_a_justified_write_token_is_created_pending_and_its_secret_page_says_so(
    client, member, org, sign_in, new_token_data, find_secret
):
    require_approval(org, "write")
    response = sign_in(client, member).post(
        reverse("token_new"), new_token_data(justification=WHY), follow=True
    )
    html = response.content.decode()
    token = PersonalAccessToken.objects.get()
    assert token.approval == "pending" and token.justification == WHY
    assert "Pending approval: this token does not work yet" in html
    assert api_status(find_secret(html)) == (403, "token_pending_approval")


def test_a_read_only_token_under_the_write_policy_needs_no_approval(
    client, member, org, sign_in, new_token_data, find_secret
):
    require_approval(org, "write")
    response = sign_in(client, member).post(
        reverse("token_new"), new_token_data(scopes=["fleet:read"]), follow=True
    )
    html = response.content.decode()
    assert PersonalAccessToken.objects.get().approval == ""
    assert "Pending approval" not in html
    assert api_status(find_secret(html))[0] == 200


# --- the policy form --------------------------------------------------------------------------


def test_the_policy_form_sets_require_approval_and_records_it(client, org_admin, org, sign_in):
    sign_in(client, org_admin)
    html = client.get(reverse("org_policy", args=[org.slug])).content.decode()
    assert 'name="require_approval"' in html and "token_pending_approval" in html
    data = {
        "max_lifetime_days": "90",
        "member_scopes": ["fleet:read", "alarms:write"],
        "default_rate_limit_per_hour": "5000",
        "revoke_unused_after_days": "",
        "require_approval": "all",
    }
    response = client.post(reverse("org_policy", args=[org.slug]), data)
    assert response.status_code == 302
    assert TokenPolicy.objects.get(organization=org).require_approval == "all"
    event = AuditEvent.objects.filter(action="policy.changed").latest("id")
    assert event.actor_user == org_admin
    assert event.details["require_approval"] == {"from": "off", "to": "all"}


def test_a_bad_require_approval_value_is_a_form_error(client, org_admin, org, sign_in):
    response = sign_in(client, org_admin).post(
        reverse("org_policy", args=[org.slug]),
        {"max_lifetime_days": "90", "default_rate_limit_per_hour": "5000", "require_approval": "x"},
    )
    assert response.status_code == 400
    assert TokenPolicy.objects.get(organization=org).require_approval == "off"


def test_the_service_refuses_an_unknown_approval_mode(org):
    with pytest.raises(InvalidInput, match="Approval is off"):
        services.update_token_policy(org, actor=Actor.system(), require_approval="sometimes")


# --- the Requests tab -------------------------------------------------------------------------


def test_the_requests_tab_shows_who_what_why_and_when_with_a_count_badge(
    client, org_admin, member, org, sign_in, issue
):
    require_approval(org, "write")
    pending = request_token(issue, member, org).token
    request_token(issue, member, org, name="Fleet viewer", scopes=("fleet:read",))  # no approval
    html = sign_in(client, org_admin).get(requests_url(org)).content.decode()
    assert 'aria-label="1 waiting"' in html
    assert member.email in html and "SAP feed" in html and "Fleet viewer" not in html
    assert "alarms:write" in html and WHY in html and "All terminals" in html
    assert pending.expires_at.strftime("%-d %b %Y") in html
    assert request_url(org, pending) in html


def test_approving_from_the_tab_makes_the_token_work_and_tells_the_requester(
    client, org_admin, member, org, sign_in, issue
):
    require_approval(org, "write")
    issued = request_token(issue, member, org)
    assert api_status(issued.secret) == (403, "token_pending_approval")
    response = sign_in(client, org_admin).post(
        request_url(org, issued.token),
        {"decision": "approve", "note": "ok for berth 4"},
        follow=True,
    )
    assert "Approved “SAP feed”" in response.content.decode()
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.approval == "approved" and token.approval_decided_by == org_admin
    assert token.approval_note == "ok for berth 4"
    assert api_status(issued.secret)[0] == 200
    event = AuditEvent.objects.get(action="token.approved")
    assert event.actor_user == org_admin and event.details["note"] == "ok for berth 4"
    assert Notification.objects.filter(kind="token_decision", user=member).count() == 1


def test_denying_from_the_tab_revokes_the_token(client, org_admin, member, org, sign_in, issue):
    require_approval(org, "all")
    issued = request_token(issue, member, org)
    sign_in(client, org_admin).post(
        request_url(org, issued.token), {"decision": "deny", "note": "use the shared one"}
    )
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.approval == "denied" and token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.denied", token=token).exists()
    assert api_status(issued.secret)[0] == 401


def test_approving_twice_gets_a_clear_message(client, org_admin, member, org, sign_in, issue):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    sign_in(client, org_admin)
    client.post(request_url(org, token), {"decision": "approve"})
    response = client.post(request_url(org, token), {"decision": "deny"}, follow=True)
    assert response.status_code == 200
    assert "already decided (Approved)" in response.content.decode()
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked_at is None
    assert AuditEvent.objects.filter(action__in=["token.approved", "token.denied"]).count() == 1


def test_a_decided_request_page_says_what_was_decided(
    client, org_admin, member, org, sign_in, issue
):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    services.deny_token(token, actor=Actor.for_user(org_admin), note="not now")
    html = sign_in(client, org_admin).get(request_url(org, token)).content.decode()
    assert "Denied" in html and "not now" in html and 'value="approve"' not in html


def test_approving_a_token_of_another_organisation_is_404(
    client, org_admin, outsider, other_org, org, sign_in, issue
):
    require_approval(other_org, "all")
    foreign = request_token(issue, outsider, other_org).token
    response = sign_in(client, org_admin).post(request_url(org, foreign), {"decision": "approve"})
    assert response.status_code == 404
    assert PersonalAccessToken.objects.get(pk=foreign.pk).is_pending


def test_a_bad_decision_is_a_400_not_a_change(client, org_admin, member, org, sign_in, issue):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    response = sign_in(client, org_admin).post(request_url(org, token), {"decision": "maybe"})
    assert response.status_code == 400
    assert PersonalAccessToken.objects.get(pk=token.pk).is_pending


def test_deciding_needs_a_recent_password(client, org_admin, member, org, sign_in, issue):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    sign_in(client, org_admin, fresh_password=False)
    response = client.post(request_url(org, token), {"decision": "approve"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("sudo"))
    assert PersonalAccessToken.objects.get(pk=token.pk).is_pending
    # Viewing the queue is no change: it needs no fresh password.
    assert client.get(requests_url(org)).status_code == 200


# --- who may see the pages --------------------------------------------------------------------


def _pages(org, token):
    return [
        ("get", requests_url(org)),
        ("get", request_url(org, token)),
        ("post", request_url(org, token)),
    ]


def test_anonymous_visitors_are_sent_to_sign_in(client, member, org, issue):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    for method, url in _pages(org, token):
        response = getattr(client, method)(url, {"decision": "approve"} if method == "post" else {})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert PersonalAccessToken.objects.get(pk=token.pk).is_pending


def test_a_member_gets_a_403_page(client, member, owner, org, sign_in, issue):
    require_approval(org, "write")
    token = request_token(issue, owner, org).token
    sign_in(client, member)
    for method, url in _pages(org, token):
        response = getattr(client, method)(url, {"decision": "approve"} if method == "post" else {})
        assert response.status_code == 403
        assert "Only an organisation admin can do this" in response.content.decode()
    assert PersonalAccessToken.objects.get(pk=token.pk).is_pending


def test_an_admin_of_another_organisation_gets_404(
    client, other_admin, member, org, sign_in, issue
):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    sign_in(client, other_admin)
    for method, url in _pages(org, token):
        response = getattr(client, method)(url, {"decision": "approve"} if method == "post" else {})
        assert response.status_code == 404
    assert PersonalAccessToken.objects.get(pk=token.pk).is_pending


def test_members_see_no_requests_tab(client, member, org, sign_in):
    html = sign_in(client, member).get(reverse("org_audit", args=[org.slug])).content.decode()
    assert requests_url(org) not in html


# --- lists ------------------------------------------------------------------------------------


def many_requests(owner, org, count: int):
    now = timezone.now()
    return PersonalAccessToken.objects.bulk_create(
        PersonalAccessToken(
            owner=owner,
            organization=org,
            name=f"request {number:03}",
            display_prefix=f"qgp_{number:04}",
            scopes=["alarms:write"],
            terminal_access="selected" if number % 2 else "all",
            created_at=now - timedelta(minutes=count - number),
            expires_at=now + timedelta(days=30),
            approval="pending",
            justification=f"reason {number}",
        )
        for number in range(count)
    )


@pytest.mark.parametrize("count", [3, 60])
def test_the_requests_tab_costs_the_same_queries_however_many_requests(
    client, org_admin, owner, org, sign_in, django_assert_num_queries, count
):
    many_requests(owner, org, count)
    sign_in(client, org_admin)
    # session, user, membership (+organisation, +pending count), count, a page (+owners),
    # the page's terminals
    with django_assert_num_queries(6):
        response = client.get(requests_url(org))
    assert response.content.decode().count('value="approve"') == min(count, 50)


def test_the_requests_tab_pages_50_at_a_time_oldest_first(client, org_admin, owner, org, sign_in):
    many_requests(owner, org, 60)
    sign_in(client, org_admin)
    first = client.get(requests_url(org))
    second = client.get(requests_url(org), {"page": 2})
    assert [t.name for t in first.context["page"]][:2] == ["request 000", "request 001"]
    assert len(second.context["page"]) == 10
    assert "60 requests" in first.content.decode() and "Page 1 of 2" in first.content.decode()


def test_the_organisation_list_shows_pending_tokens_first_with_a_badge(
    client, org_admin, member, owner, org, sign_in, issue
):
    require_approval(org, "write")
    request_token(issue, member, org, name="waiting")
    issue(owner, org, name="newer live")
    response = sign_in(client, org_admin).get(reverse("org_tokens", args=[org.slug]))
    assert [t.name for t in response.context["page"]] == ["waiting", "newer live"]
    assert "Pending approval" in response.content.decode()


def test_the_members_own_list_and_token_page_show_the_pending_state(
    client, member, org, sign_in, issue
):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    sign_in(client, member)
    assert "Pending approval" in client.get(reverse("dashboard")).content.decode()
    html = client.get(reverse("token_detail", args=[token.pk])).content.decode()
    assert "Pending approval" in html and "403 token_pending_approval" in html and WHY in html
    assert request_url(org, token) not in html  # only admins get the link to decide
    services.approve_token(token, actor=Actor.system())
    html = client.get(reverse("token_detail", args=[token.pk])).content.decode()
    assert "Pending approval" not in html and "Approved" in html


def test_an_admin_reaches_the_decision_from_the_token_page(
    client, org_admin, member, org, sign_in, issue
):
    require_approval(org, "write")
    token = request_token(issue, member, org).token
    html = sign_in(client, org_admin).get(reverse("token_detail", args=[token.pk])).content.decode()
    assert request_url(org, token) in html
