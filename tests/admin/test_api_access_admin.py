"""Issue 15 in the ops console: an organisation's level and plan change only through the
services (with a reason), the lists filter by level and kind, and production-access requests
are approved or declined with a reason."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Membership, Organization
from tests.conftest import make_org, make_user
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, ProductionAccessRequest

pytestmark = pytest.mark.django_db

DESCRIPTION = "Berth planning sync run by our IT team, about 200 requests an hour."


def access_url(org) -> str:
    return reverse("admin:portal_organization_api_access", args=[org.pk])


def request_url(access_request) -> str:
    return reverse("admin:tokens_productionaccessrequest_change", args=[access_request.pk])


@pytest.fixture
def sandbox_org(db) -> Organization:
    return make_org("Port of Gdansk", api_access=Organization.ApiAccess.SANDBOX)


@pytest.fixture
def gdansk_admin(sandbox_org):
    return make_user("ada@gdansk.example", sandbox_org, Membership.Role.ADMIN)


@pytest.fixture
def open_request(sandbox_org, gdansk_admin) -> ProductionAccessRequest:
    return services.request_production_access(
        sandbox_org,
        requested_by=gdansk_admin,
        description=DESCRIPTION,
        actor=Actor.for_user(gdansk_admin),
    )


def access_form(level: str, reason: str = "Contract signed", **plan) -> dict:
    data = {"api_access": level, "reason": reason}
    data.update({k: str(v) for k, v in plan.items()})
    return data


# --- level and plan ---------------------------------------------------------------------------


def test_the_organisation_page_shows_the_level_and_links_to_change_it(ops_client, sandbox_org):
    page = ops_client.get(reverse("admin:portal_organization_change", args=[sandbox_org.pk]))
    assert page.status_code == 200
    assert b"Sandbox only" in page.content
    assert access_url(sandbox_org).encode() in page.content


def test_ops_change_the_level_with_a_reason_through_the_service(
    ops_client, ops, sandbox_org, gdansk_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(access_url(sandbox_org), access_form("production"))
    assert response.status_code == 302
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "production"
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_ACCESS_CHANGED)
    assert event.actor_kind == "ops" and event.actor_user == ops
    assert event.details["reason"] == "Contract signed"
    assert [m.to for m in mail.outbox] == [[gdansk_admin.email]]
    # No plan field changed: no plan event.
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PLAN_CHANGED).exists()


def test_a_change_without_a_reason_is_an_error_next_to_the_field(ops_client, sandbox_org):
    response = ops_client.post(access_url(sandbox_org), access_form("production", reason=""))
    assert response.status_code == 200
    assert b"This field is required" in response.content
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "sandbox"
    assert not AuditEvent.objects.exists()


def test_ops_set_the_plan_and_a_bad_value_is_refused(ops_client, sandbox_org):
    response = ops_client.post(
        access_url(sandbox_org),
        access_form("sandbox", plan_rate_limit_per_hour=2000, plan_max_active_tokens=5),
    )
    assert response.status_code == 302
    sandbox_org.refresh_from_db()
    assert (sandbox_org.plan_rate_limit_per_hour, sandbox_org.plan_max_active_tokens) == (2000, 5)
    assert sandbox_org.plan_sandbox_rate_limit_per_hour is None
    assert AuditEvent.objects.get(action=AuditEvent.Action.PLAN_CHANGED).actor_kind == "ops"

    response = ops_client.post(
        access_url(sandbox_org), access_form("sandbox", plan_max_active_tokens=0)
    )
    assert response.status_code == 200
    assert b"greater than or equal to 1" in response.content


def test_the_level_field_cannot_be_set_on_the_organisation_form(super_client, sandbox_org):
    """The ordinary change form has no api_access input: the level moves only with a reason."""
    page = super_client.get(reverse("admin:portal_organization_change", args=[sandbox_org.pk]))
    assert b'name="api_access"' not in page.content
    assert b'name="plan_rate_limit_per_hour"' not in page.content


def test_staff_without_the_permission_may_not_change_the_level(client, sandbox_org):
    staff = make_user("staff@quaygate.example", is_staff=True)
    client.force_login(staff)
    assert client.get(access_url(sandbox_org)).status_code == 403
    assert client.post(access_url(sandbox_org), access_form("production")).status_code == 403
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "sandbox"


def test_the_organisation_list_filters_by_level(ops_client, org, sandbox_org):
    url = reverse("admin:portal_organization_changelist")
    page = ops_client.get(url, {"api_access__exact": "sandbox"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [sandbox_org]


def test_the_token_list_filters_by_kind(ops_client, sandbox_org, gdansk_admin, org, org_admin):
    sandbox = services.issue_token(
        owner=gdansk_admin,
        organization=sandbox_org,
        name="try",
        scopes=["fleet:read"],
        actor=Actor.for_user(gdansk_admin),
        kind="sandbox",
    ).token
    services.issue_token(
        owner=org_admin,
        organization=org,
        name="prod",
        scopes=["fleet:read"],
        actor=Actor.for_user(org_admin),
    )
    url = reverse("admin:tokens_personalaccesstoken_changelist")
    page = ops_client.get(url, {"kind__exact": "sandbox"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [sandbox]
    detail = ops_client.get(reverse("admin:tokens_personalaccesstoken_change", args=[sandbox.pk]))
    assert b"Sandbox (qgs_)" in detail.content


# --- production-access requests ---------------------------------------------------------------


def test_the_request_list_shows_open_requests_first_in_a_fixed_number_of_queries(
    ops_client, django_assert_max_num_queries
):
    for n in range(6):
        org = make_org(f"Port {n}", api_access="sandbox")
        admin = make_user(f"admin{n}@port{n}.example", org, Membership.Role.ADMIN)
        services.request_production_access(
            org, requested_by=admin, description=DESCRIPTION, actor=Actor.for_user(admin)
        )
    url = reverse("admin:tokens_productionaccessrequest_changelist")
    ops_client.get(url)  # warm the session and permission caches
    with django_assert_max_num_queries(8) as captured:
        page = ops_client.get(url)
    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == 6
    few = len(captured.captured_queries)
    # Twice the rows, the same queries.
    for n in range(6, 12):
        org = make_org(f"Port {n}", api_access="sandbox")
        admin = make_user(f"admin{n}@port{n}.example", org, Membership.Role.ADMIN)
        services.request_production_access(
            org, requested_by=admin, description=DESCRIPTION, actor=Actor.for_user(admin)
        )
    with django_assert_max_num_queries(few):
        ops_client.get(url)


def test_ops_approve_a_request_with_a_reason(
    ops_client, ops, open_request, sandbox_org, gdansk_admin, django_capture_on_commit_callbacks
):
    page = ops_client.get(request_url(open_request))
    assert page.status_code == 200
    assert DESCRIPTION.encode() in page.content and b'name="_decide"' in page.content
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(
            request_url(open_request),
            {"_decide": "Save decision", "decision": "approve", "reason": "Reviewed"},
            follow=True,
        )
    assert b"Approved: Port of Gdansk is now at" in response.content
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "production"
    open_request.refresh_from_db()
    assert open_request.state == "approved" and open_request.decided_by == ops
    assert [m.subject for m in mail.outbox] == ["Production access granted to Port of Gdansk"]
    assert b'name="_decide"' not in ops_client.get(request_url(open_request)).content


def test_ops_decline_a_request_with_a_reason(ops_client, open_request, sandbox_org):
    response = ops_client.post(
        request_url(open_request),
        {"_decide": "Save decision", "decision": "decline", "reason": "No contract"},
        follow=True,
    )
    assert b"Declined: Port of Gdansk is now at" in response.content
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "sandbox"


def test_approving_an_already_decided_request_is_a_clear_message(
    ops_client, ops, open_request, sandbox_org
):
    services.approve_production_request(open_request, actor=Actor.for_ops(ops), reason="ok")
    response = ops_client.post(
        request_url(open_request),
        {"_decide": "Save decision", "decision": "approve", "reason": "again"},
        follow=True,
    )
    assert b"Nothing changed: This request was already approved" in response.content
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PRODUCTION_APPROVED).count() == 1


def test_a_decision_without_a_reason_changes_nothing(ops_client, open_request, sandbox_org):
    response = ops_client.post(
        request_url(open_request),
        {"_decide": "1", "decision": "approve", "reason": ""},
        follow=True,
    )
    assert b"choose approve or decline, and give a reason" in response.content
    open_request.refresh_from_db()
    assert open_request.is_open


def test_staff_without_the_permission_may_not_decide(client, open_request):
    staff = make_user("staff@quaygate.example", is_staff=True)
    client.force_login(staff)
    response = client.post(
        request_url(open_request), {"_decide": "1", "decision": "approve", "reason": "x"}
    )
    assert response.status_code == 403
    open_request.refresh_from_db()
    assert open_request.is_open


def test_nobody_adds_or_deletes_requests_in_admin(super_client, open_request):
    assert super_client.get(reverse("admin:tokens_productionaccessrequest_add")).status_code == 403
    assert (
        super_client.get(
            reverse("admin:tokens_productionaccessrequest_delete", args=[open_request.pk])
        ).status_code
        == 403
    )


# --- onboarding: the first organisation admin -------------------------------------------------


def invite_url(org) -> str:
    return reverse("admin:portal_organization_invite_admin", args=[org.pk])


def test_a_superuser_invites_a_new_customers_first_admin(
    super_client, superuser, sandbox_org, django_capture_on_commit_callbacks
):
    from members.models import Invitation

    with django_capture_on_commit_callbacks(execute=True):
        response = super_client.post(
            invite_url(sandbox_org), {"email": "First.Admin@Gdansk.example"}, follow=True
        )
    assert b"Invitation sent to first.admin@gdansk.example" in response.content
    invitation = Invitation.objects.get()
    assert (invitation.organization, invitation.role) == (sandbox_org, "admin")
    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_INVITED)
    assert event.actor_kind == "ops" and event.actor_user == superuser
    [message] = mail.outbox
    assert message.to == ["first.admin@gdansk.example"]
    assert "/invitations/" in message.body
    # The link's secret is never on an admin page.
    secret_path = next(w for w in message.body.split() if "/invitations/" in w)
    assert secret_path.encode() not in response.content


def test_inviting_someone_already_in_the_org_is_an_error_on_the_field(
    super_client, sandbox_org, gdansk_admin
):
    response = super_client.post(invite_url(sandbox_org), {"email": gdansk_admin.email})
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_ops_who_only_view_organisations_may_not_invite(ops_client, sandbox_org):
    assert ops_client.get(invite_url(sandbox_org)).status_code == 403
    response = ops_client.post(invite_url(sandbox_org), {"email": "x@gdansk.example"})
    assert response.status_code == 403
