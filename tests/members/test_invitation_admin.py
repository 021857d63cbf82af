"""Ops see invitations in the console and revoke them; the link's hash never shows."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from members.invitations import invitation_for_secret, invite_member
from members.models import Invitation
from tokens.actors import Actor
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:members_invitation_changelist")


@pytest.fixture
def ops_client(ops_user) -> Client:
    """Staff in the Ops group (its permissions come from the migrations), as ops sign in."""
    ops_user.groups.add(Group.objects.get(name="Ops"))
    client = Client(HTTP_USER_AGENT="ops-browser/1.0")
    client.force_login(ops_user)
    return client


@pytest.fixture
def issued(org, org_admin):
    def issue(email: str):
        return invite_member(org, email=email, role="member", actor=Actor.for_user(org_admin))

    return issue


def revoke_post(*invitations) -> dict:
    return {"action": "revoke_selected", "_selected_action": [i.pk for i in invitations]}


def test_ops_see_invitations_and_never_the_secret_or_its_hash(ops_client, issued):
    first, second = issued("a@x.example"), issued("b@x.example")

    listing = ops_client.get(CHANGELIST)
    page = ops_client.get(reverse("admin:members_invitation_change", args=[first.invitation.pk]))

    assert listing.status_code == 200 and page.status_code == 200
    for response in (listing, page):
        body = response.content.decode()
        for sent in (first, second):
            assert sent.secret not in body
            assert sent.invitation.secret_hash not in body
        assert "secret_hash" not in body and "Secret hash" not in body
    assert "b@x.example" in listing.content.decode() and "Pending" in listing.content.decode()


def test_the_list_filters_by_state(ops_client, issued):
    kept, gone = issued("kept@x.example"), issued("gone@x.example")
    ops_client.post(CHANGELIST, revoke_post(gone.invitation))

    body = ops_client.get(CHANGELIST, {"state": "pending"}).content.decode()

    assert kept.invitation.email in body and gone.invitation.email not in body


def test_the_revoke_action_revokes_through_the_service_and_audits(ops_client, ops_user, issued):
    first, second = issued("a@x.example"), issued("b@x.example")

    response = ops_client.post(CHANGELIST, revoke_post(first.invitation, second.invitation))

    assert response.status_code == 302
    for sent in (first, second):
        assert invitation_for_secret(sent.secret).state == "revoked"
    events = AuditEvent.objects.filter(action=AuditEvent.Action.INVITATION_REVOKED)
    assert events.count() == 2
    for event in events:
        assert (event.actor_kind, event.actor_user) == ("ops", ops_user)
        assert event.user_agent == "ops-browser/1.0"


def test_revoking_what_is_not_pending_changes_nothing(ops_client, issued):
    sent = issued("a@x.example")
    ops_client.post(CHANGELIST, revoke_post(sent.invitation))

    response = ops_client.post(CHANGELIST, revoke_post(sent.invitation), follow=True)

    assert "left alone: 1" in response.content.decode()
    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


def test_staff_without_the_permission_cannot_see_or_revoke(ops_user, issued):
    sent = issued("a@x.example")
    client = Client()
    client.force_login(ops_user)  # staff, but not in the Ops group

    assert client.get(CHANGELIST).status_code == 403
    assert client.post(CHANGELIST, revoke_post(sent.invitation)).status_code == 403
    assert Invitation.objects.get().is_pending


def test_view_only_staff_see_the_list_but_not_the_action(ops_user, issued):
    sent = issued("a@x.example")
    ops_user.user_permissions.add(Permission.objects.get(codename="view_invitation"))
    client = Client()
    client.force_login(ops_user)

    listing = client.get(CHANGELIST)
    client.post(CHANGELIST, revoke_post(sent.invitation))

    assert listing.status_code == 200 and "revoke_selected" not in listing.content.decode()
    assert Invitation.objects.get().is_pending
    assert not AuditEvent.objects.filter(action="invitation.revoked").exists()


def test_the_ops_group_may_view_and_revoke_invitations_but_not_add_or_delete(ops_client, ops_user):
    assert ops_user.has_perm("members.view_invitation")
    assert ops_user.has_perm("members.change_invitation")
    assert not ops_user.has_perm("members.add_invitation")
    assert not ops_user.has_perm("members.delete_invitation")
