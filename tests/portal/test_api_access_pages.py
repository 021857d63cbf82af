"""Issue 15 in the portal: the kind on the new-token form (limited to what the organisation's
level covers), the kind badge on every token page, the API access page with its plan, and
"Request production access": admins only, once at a time, not when production is on."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Membership, Organization
from tests.conftest import make_org, make_user
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken, ProductionAccessRequest

pytestmark = pytest.mark.django_db

SANDBOX_SECRET = re.compile(r"qgs_[0-9A-Za-z]{36}")
DESCRIPTION = "Berth planning sync run by our IT team, about 200 requests an hour."


@pytest.fixture
def sandbox_org(db) -> Organization:
    return make_org("Port of Gdansk", api_access=Organization.ApiAccess.SANDBOX)


@pytest.fixture
def gdansk_admin(sandbox_org):
    return make_user("ada@gdansk.example", sandbox_org, Membership.Role.ADMIN)


@pytest.fixture
def gdansk_member(sandbox_org):
    return make_user("max@gdansk.example", sandbox_org, Membership.Role.MEMBER)


def api_page(org) -> str:
    return reverse("org_api_access", args=[org.slug])


def request_page(org) -> str:
    return reverse("org_api_request", args=[org.slug])


# --- the kind on the new-token form -----------------------------------------------------------


def test_a_production_org_chooses_the_kind_and_production_is_preselected(client, owner, sign_in):
    html = sign_in(client, owner).get(reverse("token_new")).content.decode()
    assert 'name="kind" value="production"' in html and 'name="kind" value="sandbox"' in html
    assert re.search(r'name="kind" value="production"[^>]*checked', html)


def test_a_production_org_creates_a_sandbox_token(client, owner, sign_in, new_token_data):
    sign_in(client, owner)
    response = client.post(reverse("token_new"), new_token_data(kind="sandbox"))
    assert response.status_code == 302
    token = PersonalAccessToken.objects.get(owner=owner)
    assert token.kind == "sandbox" and token.display_prefix.startswith("qgs_")
    shown = client.get(response["Location"]).content.decode()
    assert SANDBOX_SECRET.search(shown)
    assert 'data-kind="sandbox"' in shown


def test_a_sandbox_org_is_offered_only_sandbox_tokens(
    client, gdansk_member, sign_in, new_token_data
):
    sign_in(client, gdansk_member)
    html = client.get(reverse("token_new")).content.decode()
    assert 'name="kind" value="sandbox"' in html
    assert 'name="kind" value="production"' not in html
    assert "An organisation admin can request production access" in html
    # A production token posted anyway is refused in words, next to the field.
    response = client.post(reverse("token_new"), new_token_data(kind="production"))
    assert response.status_code == 400
    assert "sandbox access only: choose a sandbox token" in response.content.decode()
    assert not PersonalAccessToken.objects.exists()
    # Without a kind (a script, an old form) it is a sandbox token.
    response = client.post(reverse("token_new"), new_token_data())
    assert response.status_code == 302
    assert PersonalAccessToken.objects.get().kind == "sandbox"


def test_an_org_without_api_access_sees_how_to_get_it(client, sign_in, new_token_data):
    closed = make_org("Port of Kiel", api_access=Organization.ApiAccess.NONE)
    person = make_user("kim@kiel.example", closed, Membership.Role.ADMIN)
    sign_in(client, person)
    response = client.get(reverse("token_new"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "The partner API is not enabled for Port of Kiel" in html
    assert "enable the <strong>sandbox</strong>" in html
    assert api_page(closed) in html
    assert client.post(reverse("token_new"), new_token_data()).status_code == 403
    assert not PersonalAccessToken.objects.exists()


def test_the_live_token_cap_is_a_clear_message_on_the_form(
    client, owner, org, sign_in, new_token_data, issue
):
    services.set_plan(
        org,
        actor=Actor.cli("ops"),
        reason="trial",
        plan_rate_limit_per_hour=None,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=1,
    )
    issue(owner, org, name="the only one")
    sign_in(client, owner)
    html = client.get(reverse("token_new")).content.decode()
    assert "up to <strong>1</strong> live tokens (1 now)" in html
    response = client.post(reverse("token_new"), new_token_data(name="one more"))
    assert response.status_code == 400
    assert "the most its plan allows (1)" in response.content.decode()


def test_a_rate_limit_above_the_plan_is_refused_on_its_field(
    client, org_admin, org, sign_in, new_token_data
):
    services.set_plan(
        org,
        actor=Actor.cli("ops"),
        reason="starter",
        plan_rate_limit_per_hour=1000,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=None,
    )
    sign_in(client, org_admin)
    response = client.post(reverse("token_new"), new_token_data(rate_limit_per_hour="1001"))
    assert response.status_code == 400
    assert "at most 1,000 requests per hour for a production token" in response.content.decode()


# --- the kind badge ---------------------------------------------------------------------------


def test_the_kind_is_a_badge_on_the_lists_and_the_token_page(
    client, org_admin, org, sign_in, issue
):
    sandbox = issue(org_admin, org, name="try it", kind="sandbox").token
    production = issue(org_admin, org, name="live").token
    sign_in(client, org_admin)
    for url in (reverse("dashboard"), reverse("org_tokens", args=[org.slug])):
        html = client.get(url).content.decode()
        assert html.count('data-kind="sandbox"') == 1, url
        assert html.count('data-kind="production"') == 1, url
    for token, label in ((sandbox, "Sandbox"), (production, "Production")):
        html = client.get(reverse("token_detail", args=[token.pk])).content.decode()
        assert f'data-kind="{token.kind}">{label}</span>' in html


def test_emails_about_a_token_name_its_kind(
    org_admin, org, issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issue(org_admin, org, name="try it", kind="sandbox")
    [message] = mail.outbox
    assert "Kind:          Sandbox (qgs_)" in message.body
    assert "Sandbox (qgs_)" in message.alternatives[0].content


# --- the API access page ----------------------------------------------------------------------


def test_every_member_sees_the_level_and_the_plan(client, gdansk_member, sandbox_org, sign_in):
    html = sign_in(client, gdansk_member).get(api_page(sandbox_org)).content.decode()
    assert 'data-level="sandbox">Sandbox only' in html
    assert "500</strong> requests per hour per sandbox token" in html
    assert "An organisation admin can request production access here" in html
    assert 'id="request-production"' not in html


def test_an_outsider_gets_404(client, outsider, sandbox_org, sign_in):
    sign_in(client, outsider)
    assert client.get(api_page(sandbox_org)).status_code == 404
    response = client.post(request_page(sandbox_org), {"description": DESCRIPTION})
    assert response.status_code == 404


def test_a_member_pressing_request_gets_a_403_page(client, gdansk_member, sandbox_org, sign_in):
    sign_in(client, gdansk_member)
    response = client.post(request_page(sandbox_org), {"description": DESCRIPTION})
    assert response.status_code == 403
    assert "Only an organisation admin can request production access" in response.content.decode()
    assert not ProductionAccessRequest.objects.exists()


def test_an_admin_requests_production_and_sees_it_waiting(
    client, gdansk_admin, sandbox_org, ops_user, sign_in, django_capture_on_commit_callbacks
):
    sign_in(client, gdansk_admin)
    html = client.get(api_page(sandbox_org)).content.decode()
    assert 'id="request-production"' in html and "Request production access" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(request_page(sandbox_org), {"description": DESCRIPTION}, follow=True)
    html = response.content.decode()
    assert "Your request for production access is sent" in html
    assert 'id="open-request"' in html and 'id="request-production"' not in html
    access_request = ProductionAccessRequest.objects.get()
    assert access_request.requested_by == gdansk_admin
    assert AuditEvent.objects.filter(action="org.production_requested").exists()
    assert [m.to for m in mail.outbox] == [[ops_user.email]]


def test_a_second_request_while_one_is_open_is_a_clear_message(
    client, gdansk_admin, sandbox_org, sign_in
):
    sign_in(client, gdansk_admin)
    client.post(request_page(sandbox_org), {"description": DESCRIPTION})
    response = client.post(request_page(sandbox_org), {"description": DESCRIPTION}, follow=True)
    assert "already waiting for Quaygate ops" in response.content.decode()
    assert ProductionAccessRequest.objects.count() == 1


def test_an_org_with_production_is_told_so(client, org_admin, org, sign_in):
    sign_in(client, org_admin)
    html = client.get(api_page(org)).content.decode()
    assert 'id="request-production"' not in html
    response = client.post(request_page(org), {"description": DESCRIPTION}, follow=True)
    assert "already has production access" in response.content.decode()
    assert not ProductionAccessRequest.objects.exists()


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("", "Describe the integration"),
        ("short", "at least 20 characters"),
        ("x" * 2001, "at most 2000 characters"),
    ],
)
def test_a_bad_description_is_an_error_on_the_field(
    client, gdansk_admin, sandbox_org, sign_in, description, message
):
    sign_in(client, gdansk_admin)
    response = client.post(request_page(sandbox_org), {"description": description})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ProductionAccessRequest.objects.exists()


def test_the_request_is_post_only(client, gdansk_admin, sandbox_org, sign_in):
    sign_in(client, gdansk_admin)
    assert client.get(request_page(sandbox_org)).status_code == 405


def test_the_page_lists_past_requests_in_a_fixed_number_of_queries(
    client, gdansk_admin, sandbox_org, ops_user, sign_in, django_assert_num_queries
):
    def ask_and_decline():
        access_request = services.request_production_access(
            sandbox_org,
            requested_by=gdansk_admin,
            description=DESCRIPTION,
            actor=Actor.for_user(gdansk_admin),
        )
        services.decline_production_request(
            access_request, actor=Actor.for_ops(ops_user), reason="not yet"
        )

    ask_and_decline()
    sign_in(client, gdansk_admin)
    client.get(api_page(sandbox_org))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(api_page(sandbox_org))
    for _ in range(4):
        ask_and_decline()
    with django_assert_num_queries(len(one.captured_queries)):
        html = client.get(api_page(sandbox_org)).content.decode()
    assert html.count('data-request="') == 5
    assert "not yet" in html
