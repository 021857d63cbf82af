"""Organisations in admin: members inline and the token policy, every change audited with the
person who made it as the actor; the policy only through update_token_policy."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from tests.admin.conftest import form_data
from tests.conftest import make_user
from tokens.models import AuditEvent, TokenPolicy
from tokens.services import policy_for

pytestmark = pytest.mark.django_db


def change_url(org) -> str:
    return reverse("admin:portal_organization_change", args=[org.pk])


def policy_key(data: dict, field: str) -> str:
    return next(key for key in data if key.startswith("token_policy-0-") and key.endswith(field))


def test_a_policy_change_goes_through_the_service_and_is_audited(super_client, superuser, org):
    policy_for(org)
    data = form_data(super_client.get(change_url(org)))
    data[policy_key(data, "max_lifetime_days")] = "30"
    data["_save"] = "Save"

    response = super_client.post(change_url(org), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert TokenPolicy.objects.get(organization=org).max_lifetime_days == 30
    event = AuditEvent.objects.get(action=AuditEvent.Action.POLICY_CHANGED)
    assert event.actor_kind == AuditEvent.ActorKind.OPS
    assert event.actor_user == superuser
    assert event.organization == org
    assert event.details == {"max_lifetime_days": {"from": 90, "to": 30}}


def test_a_policy_value_the_service_would_refuse_is_an_error_on_the_page(super_client, org):
    policy_for(org)
    data = form_data(super_client.get(change_url(org)))
    data[policy_key(data, "max_lifetime_days")] = "0"
    data["_save"] = "Save"

    response = super_client.post(change_url(org), data)

    assert response.status_code == 200
    assert b"Ensure this value is greater than or equal to 1" in response.content
    assert TokenPolicy.objects.get(organization=org).max_lifetime_days == 90
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_CHANGED).exists()


def test_adding_and_removing_members_is_audited(super_client, superuser, org, member):
    newcomer = make_user("new@rotterdam.example")
    data = form_data(super_client.get(change_url(org)))
    total = int(data["memberships-TOTAL_FORMS"])
    # Remove the member, promote nobody, add the newcomer as an admin.
    index = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("memberships-") and key.endswith("-user") and value == str(member.pk)
    )
    data[f"memberships-{index}-DELETE"] = "on"
    data |= {
        f"memberships-{total}-user": str(newcomer.pk),
        f"memberships-{total}-role": Membership.Role.ADMIN,
        "memberships-TOTAL_FORMS": str(total + 1),
        "_save": "Save",
    }

    response = super_client.post(change_url(org), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert not Membership.objects.filter(user=member, organization=org).exists()
    assert Membership.objects.get(user=newcomer, organization=org).role == Membership.Role.ADMIN
    events = {
        event.details["change"]: event
        for event in AuditEvent.objects.filter(
            action__in=[AuditEvent.Action.MEMBERSHIP_CHANGED, AuditEvent.Action.MEMBER_REMOVED]
        )
    }
    assert set(events) == {"added", "removed"}
    assert events["added"].details["user"] == newcomer.email
    assert events["added"].details["to"] == Membership.Role.ADMIN
    assert events["removed"].details["user"] == member.email
    assert all(event.actor_user == superuser for event in events.values())
    assert all(event.organization == org for event in events.values())


def test_changing_a_role_is_audited_with_before_and_after(super_client, org, member):
    data = form_data(super_client.get(change_url(org)))
    key = next(k for k, v in data.items() if k.endswith("-user") and v == str(member.pk))
    data[key.replace("-user", "-role")] = Membership.Role.ADMIN
    data["_save"] = "Save"

    assert super_client.post(change_url(org), data).status_code == 302

    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_ROLE_CHANGED)
    assert event.details["change"] == "role"
    assert (event.details["from"], event.details["to"]) == ("member", "admin")


def test_ops_see_an_organisation_with_its_members_and_policy_but_cannot_change_it(
    ops_client, org, member
):
    policy_for(org)
    page = ops_client.get(change_url(org))
    assert page.status_code == 200
    assert member.email.encode() in page.content
    assert b"Token policy" in page.content or b"token policy" in page.content
    assert b'name="_save"' not in page.content

    response = ops_client.post(change_url(org), {"name": "Renamed", "_save": "Save"})
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.name == "Port of Rotterdam"


def test_removing_a_member_revokes_their_tokens_in_that_organisation(
    super_client, org, member, owner
):
    from tokens.actors import Actor
    from tokens.models import PersonalAccessToken
    from tokens.services import issue_token

    def issue(person, name):
        return issue_token(
            owner=person,
            organization=org,
            name=name,
            scopes=["fleet:read"],
            actor=Actor.for_user(person),
        ).token

    leaving, staying = issue(member, "leaving"), issue(owner, "staying")
    data = form_data(super_client.get(change_url(org)))
    key = next(k for k, v in data.items() if k.endswith("-user") and v == str(member.pk))
    data[key.replace("-user", "-DELETE")] = "on"
    data["_save"] = "Save"

    response = super_client.post(change_url(org), data)

    assert response.status_code == 302
    leaving = PersonalAccessToken.objects.get(pk=leaving.pk)
    assert leaving.revoked_at is not None and "no longer a member" in leaving.revocation_reason
    assert leaving.revoked_by_kind == "ops"
    assert PersonalAccessToken.objects.get(pk=staying.pk).revoked_at is None
