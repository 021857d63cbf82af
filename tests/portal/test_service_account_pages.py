"""The service accounts pages and service tokens in the portal (issue 17): admins only (a member
gets 403, another organisation 404), creating one, its tokens, a new contact, archiving, the
token form's "for a service account" choice, and the owner type on the token lists."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from members import services as member_services
from tests.conftest import make_user
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken, ServiceAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(org, org_admin, member) -> ServiceAccount:
    return services.create_service_account(
        org, name="SAP connector", contact=member, actor=Actor.for_user(org_admin)
    )


@pytest.fixture
def service_token(account, org_admin) -> PersonalAccessToken:
    return services.issue_service_token(
        account, actor=Actor.for_user(org_admin), name="sap prod", scopes=["fleet:read"]
    ).token


def pages(org, account, token=None):
    slug = org.slug
    return [
        reverse("org_service_accounts", args=[slug]),
        reverse("org_service_account_new", args=[slug]),
        reverse("org_service_account", args=[slug, account.pk]),
        reverse("org_service_account_archive", args=[slug, account.pk]),
    ]


# --- who may see them -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, org, account):
    for url in pages(org, account):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    contact = reverse("org_service_account_contact", args=[org.slug, account.pk])
    assert client.post(contact, {"contact": 1}).status_code == 302


def test_a_member_gets_a_403_page_on_every_one(client, org, account, owner, sign_in):
    sign_in(client, owner)
    for url in pages(org, account):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Only admins manage service accounts" in response.content.decode()
    contact = reverse("org_service_account_contact", args=[org.slug, account.pk])
    assert client.post(contact, {"contact": owner.pk}).status_code == 403
    assert client.post(pages(org, account)[3]).status_code == 403
    account.refresh_from_db()
    assert account.contact != owner and account.archived_at is None


def test_another_organisation_gets_a_404_on_every_one(client, org, account, outsider, sign_in):
    sign_in(client, outsider)
    for url in pages(org, account):
        assert client.get(url).status_code == 404, url


def test_an_admin_of_another_organisation_cannot_reach_our_account_by_id(
    client, org, other_org, account, sign_in
):
    other_admin = make_user("boss@antwerp.example", other_org, Membership.Role.ADMIN)
    sign_in(client, other_admin)
    url = reverse("org_service_account", args=[other_org.slug, account.pk])
    assert client.get(url).status_code == 404


def test_members_do_not_see_the_tab_admins_do(client, org, owner, org_admin, sign_in):
    sign_in(client, owner)
    audit = client.get(reverse("org_audit", args=[org.slug])).content.decode()
    assert "Service accounts" not in audit
    sign_in(client, org_admin)
    audit = client.get(reverse("org_audit", args=[org.slug])).content.decode()
    assert "Service accounts" in audit


# --- managing them ----------------------------------------------------------------------------


def test_an_admin_creates_a_service_account(client, org, org_admin, member, sign_in):
    sign_in(client, org_admin)
    url = reverse("org_service_account_new", args=[org.slug])
    response = client.post(
        url, {"name": "SAP connector", "description": "ERP sync", "contact": member.pk}
    )

    account = ServiceAccount.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("org_service_account", args=[org.slug, account.pk])
    assert (account.name, account.contact, account.created_by) == (
        "SAP connector",
        member,
        org_admin,
    )
    assert AuditEvent.objects.filter(action="service_account.created").count() == 1


def test_a_name_clash_is_a_message_on_the_form(client, org, org_admin, member, account, sign_in):
    sign_in(client, org_admin)
    response = client.post(
        reverse("org_service_account_new", args=[org.slug]),
        {"name": "sap CONNECTOR", "contact": member.pk},
    )

    assert response.status_code == 400
    assert "already a service account called" in response.content.decode()
    assert ServiceAccount.objects.count() == 1


def test_the_contact_must_be_chosen_from_the_members(client, org, org_admin, outsider, sign_in):
    sign_in(client, org_admin)
    response = client.post(
        reverse("org_service_account_new", args=[org.slug]),
        {"name": "SAP", "contact": outsider.pk},
    )
    assert response.status_code == 400
    assert not ServiceAccount.objects.exists()


def test_the_detail_lists_its_tokens_with_their_creator(
    client, org, org_admin, account, service_token, sign_in
):
    sign_in(client, org_admin)
    page = client.get(reverse("org_service_account", args=[org.slug, account.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "sap prod" in html and service_token.display_prefix in html
    assert org_admin.email in html and "member@rotterdam.example" in html


def test_an_admin_names_a_new_contact(client, org, org_admin, owner, account, sign_in):
    sign_in(client, org_admin)
    url = reverse("org_service_account_contact", args=[org.slug, account.pk])

    response = client.post(url, {"contact": owner.pk})

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.contact == owner


def test_a_service_account_without_contact_says_it_needs_one(
    client, org, org_admin, member, account, sign_in
):
    member_services.remove_member(
        Membership.objects.get(user=member, organization=org), actor=Actor.for_user(org_admin)
    )
    sign_in(client, org_admin)

    listing = client.get(reverse("org_service_accounts", args=[org.slug])).content.decode()
    detail = client.get(reverse("org_service_account", args=[org.slug, account.pk]))

    assert "Needs a new contact" in listing
    assert "needs a new contact" in detail.content.decode()


def test_archiving_revokes_its_tokens(client, org, org_admin, account, service_token, sign_in):
    sign_in(client, org_admin)
    url = reverse("org_service_account_archive", args=[org.slug, account.pk])
    assert client.get(url).status_code == 200

    response = client.post(url)

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.archived_at is not None
    assert PersonalAccessToken.objects.get(pk=service_token.pk).revoked_at is not None


def test_the_list_costs_the_same_queries_however_many_accounts(
    client, org, org_admin, member, django_assert_num_queries, sign_in
):
    for number in range(6):
        account = services.create_service_account(
            org, name=f"Connector {number}", contact=member, actor=Actor.for_user(org_admin)
        )
        services.issue_service_token(
            account, actor=Actor.for_user(org_admin), name="t", scopes=["fleet:read"]
        )
    sign_in(client, org_admin)
    # session, user, membership (+organisation), count, a page of accounts (+contact, creator)
    with django_assert_num_queries(5):
        response = client.get(reverse("org_service_accounts", args=[org.slug]))
    assert response.content.decode().count("Connector ") == 6


def test_the_detail_costs_the_same_queries_however_many_tokens(
    client, org, org_admin, account, django_assert_num_queries, sign_in
):
    for number in range(5):
        services.issue_service_token(
            account, actor=Actor.for_user(org_admin), name=f"t{number}", scopes=["fleet:read"]
        )
    sign_in(client, org_admin)
    # session, user, membership, the account, members (contact choices), count, page of tokens
    with django_assert_num_queries(7):
        response = client.get(reverse("org_service_account", args=[org.slug, account.pk]))
    assert response.content.decode().count("fleet:read") == 5


# --- the token form and the lists -------------------------------------------------------------


def test_an_admin_creates_a_token_for_a_service_account(
    client, org, org_admin, account, sign_in, new_token_data
):
    sign_in(client, org_admin)
    form = client.get(reverse("token_new"), {"owner": account.pk}).content.decode()
    assert "For the service account SAP connector" in form

    response = client.post(reverse("token_new"), new_token_data(owner=str(account.pk)))

    assert response.status_code == 302
    token = PersonalAccessToken.objects.get()
    assert token.service_account == account and token.owner == org_admin


def test_the_choice_defaults_to_a_personal_token(
    client, org, org_admin, account, sign_in, new_token_data
):
    sign_in(client, org_admin)
    client.post(reverse("token_new"), new_token_data())
    assert PersonalAccessToken.objects.get().service_account is None


def test_members_never_see_the_choice_and_cannot_post_it(
    client, org, owner, account, sign_in, new_token_data
):
    sign_in(client, owner)
    form = client.get(reverse("token_new")).content.decode()
    assert "service account" not in form.lower()

    client.post(reverse("token_new"), new_token_data(owner=str(account.pk)))

    assert not PersonalAccessToken.objects.filter(service_account__isnull=False).exists()


def test_the_org_token_list_shows_and_filters_the_owner_type(
    client, org, org_admin, owner, service_token, issue, sign_in, django_assert_num_queries
):
    issue(owner, org, name="personal one")
    services.policy_for(org)
    sign_in(client, org_admin)
    url = reverse("org_tokens", args=[org.slug])

    with django_assert_num_queries(6):
        everything = client.get(url).content.decode()
    assert "Service account</span> SAP connector" in everything and "Personal</span>" in everything
    services_only = client.get(url, {"owner": "service"}).content.decode()
    assert "sap prod" in services_only and "personal one" not in services_only
    people_only = client.get(url, {"owner": "user"}).content.decode()
    assert "personal one" in people_only and "sap prod" not in people_only


def test_the_token_page_shows_its_creator_and_contact(
    client, org, org_admin, service_token, sign_in
):
    sign_in(client, org_admin)
    html = client.get(reverse("token_detail", args=[service_token.pk])).content.decode()

    assert "Created by: admin@rotterdam.example" in html
    assert "Contact: member@rotterdam.example" in html
    assert "Regenerate…" in html


def test_the_contact_reads_the_token_page_but_cannot_change_it(
    client, member, service_token, sign_in
):
    sign_in(client, member)
    page = client.get(reverse("token_detail", args=[service_token.pk]))
    assert page.status_code == 200 and "Regenerate…" not in page.content.decode()

    assert client.get(reverse("token_regenerate", args=[service_token.pk])).status_code == 403
    assert client.post(reverse("token_revoke", args=[service_token.pk])).status_code == 403
    assert PersonalAccessToken.objects.get(pk=service_token.pk).revoked_at is None


def test_its_creator_loses_it_with_their_admin_role(client, org, org_admin, service_token, sign_in):
    make_user("second@rotterdam.example", org, Membership.Role.ADMIN)
    Membership.objects.filter(user=org_admin).update(role=Membership.Role.MEMBER)
    sign_in(client, org_admin)

    assert client.get(reverse("token_detail", args=[service_token.pk])).status_code == 404
    assert "sap prod" not in client.get(reverse("dashboard")).content.decode()


def test_the_dashboard_lists_personal_tokens_only(client, org_admin, service_token, sign_in):
    sign_in(client, org_admin)
    assert "sap prod" not in client.get(reverse("dashboard")).content.decode()
