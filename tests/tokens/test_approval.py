"""Issue 17: members' tokens wait for an admin's approval before the API accepts them."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tokens import services
from tokens.actors import Actor
from tokens.exceptions import InvalidInput, PermissionDenied, TokenNotActive
from tokens.models import AuditEvent, PersonalAccessToken
from tokens.services.policy import policy_for


def _require(org, mode):
    policy = policy_for(org)
    policy.require_approval = mode
    policy.save()


def _request(user, org, scopes=("alarms:write",), justification="SAP connector"):
    return services.issue_token(
        owner=user,
        organization=org,
        name="feed",
        scopes=list(scopes),
        actor=Actor.for_user(user),
        justification=justification,
    )


def _get(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get("/api/v1/token")


@pytest.mark.django_db
def test_pending_token_is_refused_until_approved(org, member, org_admin):
    _require(org, "all")
    issued = _request(member, org)
    assert issued.token.approval == "pending"
    response = _get(issued.secret)
    assert response.status_code == 403
    assert response.json()["code"] == "token_pending_approval"
    services.approve_token(issued.token, actor=Actor.for_user(org_admin), note="ok")
    assert _get(issued.secret).status_code == 200
    assert AuditEvent.objects.filter(action="token.approved", token=issued.token).exists()
    with pytest.raises(TokenNotActive, match="already decided"):
        services.approve_token(issued.token, actor=Actor.for_user(org_admin))


@pytest.mark.django_db
def test_denial_revokes_and_members_cannot_decide(org, member, org_admin):
    _require(org, "write")
    issued = _request(member, org)
    with pytest.raises(PermissionDenied):
        services.approve_token(issued.token, actor=Actor.for_user(member))
    services.deny_token(issued.token, actor=Actor.for_user(org_admin), note="no")
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revoked_at is not None and token.approval == "denied"
    assert _get(issued.secret).status_code == 401


@pytest.mark.django_db
def test_read_only_admin_and_off_skip_approval(org, member, org_admin):
    _require(org, "write")
    assert _request(member, org, scopes=("fleet:read",), justification="").token.approval == ""
    assert _request(org_admin, org, justification="").token.approval == ""


@pytest.mark.django_db
def test_justification_required_and_capped(org, member):
    _require(org, "all")
    with pytest.raises(InvalidInput, match="why"):
        _request(member, org, justification=" ")
    with pytest.raises(InvalidInput, match="2000"):
        _request(member, org, justification="x" * 10_000)


@pytest.mark.django_db
def test_undecided_requests_lapse_after_seven_days(org, member):
    _require(org, "all")
    issued = _request(member, org)
    assert services.expire_pending_requests(actor=Actor.system()) == 0
    later = timezone.now() + timedelta(days=8)
    assert services.expire_pending_requests(actor=Actor.system(), now=later) == 1
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.approval == "lapsed" and token.revoked_at is not None


@pytest.mark.django_db
def test_regenerating_an_approved_token_needs_no_new_approval(org, member, org_admin):
    _require(org, "write")
    issued = _request(member, org)
    services.approve_token(issued.token, actor=Actor.for_user(org_admin))
    _require(org, "all")  # tighter since: unchanged settings still need nothing new
    again = services.regenerate_token(issued.token, actor=Actor.for_user(member))
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).approval == "approved"
    assert _get(again.secret).status_code == 200
    assert _get(issued.secret).status_code == 401  # the old secret stopped at once


@pytest.mark.django_db
def test_a_token_made_before_the_policy_needs_no_approval_when_regenerated(org, member):
    issued = _request(member, org, justification="")
    _require(org, "all")
    again = services.regenerate_token(issued.token, actor=Actor.for_user(member))
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).approval == ""
    assert _get(again.secret).status_code == 200


@pytest.mark.django_db
def test_regenerating_a_pending_token_does_not_get_round_the_approval(org, member):
    _require(org, "write")
    issued = _request(member, org)
    again = services.regenerate_token(issued.token, actor=Actor.for_user(member))
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).is_pending
    response = _get(again.secret)
    assert response.status_code == 403 and response.json()["code"] == "token_pending_approval"


def test_write_scopes_are_named_in_one_place():
    from tokens import scopes

    assert {"alarms:write", "maintenance:write"} == scopes.WRITE_SCOPES
    assert scopes.is_write_scope("alarms:write") and not scopes.is_write_scope("alarms:read")
    assert scopes.has_write_scope(["fleet:read", "maintenance:write"])
    assert not scopes.has_write_scope(["fleet:read", "telemetry:read"])
