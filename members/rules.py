"""The rules every members service shares: who may manage an organisation's people, what a
role is, and who the organisation's admins are. One copy, used by services and invitations."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership, Organization, User
from members.exceptions import MemberError
from tokens.actors import Actor


def require_manage_members(actor: Actor, organization: Organization) -> None:
    if not actor.administers(organization):
        raise MemberError(
            "Only an organisation admin can change its members or invitations.",
            code="permission_denied",
        )


def clean_role(role: str) -> str:
    if role not in Membership.Role.values:
        raise MemberError(
            "Choose a role: organisation admin or member.", code="invalid_role", field="role"
        )
    return role


def active_admins(organization: Organization) -> QuerySet[User]:
    """The people the organisation's notices go to."""
    return User.objects.admins_of(organization.pk)


def person(user: User | None) -> str:
    """How an email names someone: "Name (email)", the email alone, or Quaygate itself."""
    if user is None:
        return "Quaygate"
    return f"{user.full_name} ({user.email})" if user.full_name else user.email
