"""Every change to an organisation's membership happens here: joining, a role change, leaving,
and a membership handed to someone else.

Each service checks who may do it, writes the change and its MEMBERSHIP_CHANGED audit event in
one transaction, and, when someone leaves, revokes the tokens they hold in that organisation
(tokens.services.revoke_member_tokens) in that same transaction: nobody is out of the
organisation while their tokens still work. The ops console's member inline calls these; so
will the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Membership, Organization, User
from tokens import services as token_services
from tokens.actors import CLI, OPS, SYSTEM, USER, Actor
from tokens.exceptions import InvalidInput, PermissionDenied
from tokens.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Replacement:
    """A membership handed to someone else: the new member's row, who left, and how many of
    their tokens were revoked."""

    membership: Membership
    previous_user: User
    tokens_revoked: int


def add_member(organization: Organization, *, user: User, role: str, actor: Actor) -> Membership:
    """`user` joins `organization` with `role`. Returns the new membership."""
    _require_manage_members(actor, organization)
    role = _clean_role(role)
    with transaction.atomic():
        membership = _join(organization, user=user, role=role)
        _audit(actor, membership, change="added", before=None)
    return membership


def change_role(membership: Membership, *, role: str, actor: Actor) -> Membership:
    """A member becomes an admin or the other way round. Returns the membership as stored; no
    event when the role is already `role`."""
    _require_manage_members(actor, membership.organization)
    role = _clean_role(role)
    with transaction.atomic():
        membership = _locked(membership)
        before = membership.role
        if before == role:
            return membership
        membership.role = role
        membership.save(update_fields=["role"])
        _audit(actor, membership, change="role", before=before)
    return membership


def remove_member(membership: Membership, *, actor: Actor) -> int:
    """The person leaves the organisation and every token they hold there is revoked; their
    tokens in other organisations are not touched. Returns how many tokens were revoked."""
    _require_manage_members(actor, membership.organization)
    with transaction.atomic():
        membership = _locked(membership)
        _audit(actor, membership, change="removed", before=membership.role)
        membership.delete()
        return token_services.revoke_member_tokens(
            user=membership.user, organization=membership.organization, actor=actor
        )


def replace_member(membership: Membership, *, user: User, role: str, actor: Actor) -> Replacement:
    """The membership now belongs to `user` (the ops console lets a member row be pointed at
    someone else): the person it belonged to leaves, as in remove_member, and `user` joins, as
    in add_member. One event records both (change "replaced", with previous_user_id), so the
    log reads as the edit that was made."""
    _require_manage_members(actor, membership.organization)
    role = _clean_role(role)
    with transaction.atomic():
        previous = _locked(membership)
        if previous.user_id == user.pk:
            raise InvalidInput(
                f"{user.email} already holds this membership.", code="already_a_member"
            )
        organization, previous_user, previous_role = (
            previous.organization,
            previous.user,
            previous.role,
        )
        previous.delete()
        joined = _join(organization, user=user, role=role)
        _audit(
            actor,
            joined,
            change="replaced",
            before=previous_role,
            extra={"previous_user_id": previous_user.pk},
        )
        revoked = token_services.revoke_member_tokens(
            user=previous_user, organization=organization, actor=actor
        )
    return Replacement(membership=joined, previous_user=previous_user, tokens_revoked=revoked)


# --- the steps the services share ---------------------------------------------------------------


def _may_manage_members(actor: Actor, organization: Organization) -> bool:
    if actor.kind in (OPS, SYSTEM, CLI):
        return True
    return (
        actor.kind == USER
        and actor.user is not None
        and Membership.objects.admins().filter(user=actor.user, organization=organization).exists()
    )


def _require_manage_members(actor: Actor, organization: Organization) -> None:
    if not _may_manage_members(actor, organization):
        raise PermissionDenied(
            "Only an organisation admin can change its members.", code="permission_denied"
        )


def _clean_role(role: str) -> str:
    if role not in Membership.Role.values:
        raise InvalidInput(f"{role!r} is not a role.", code="invalid_role", field="role")
    return role


def _locked(membership: Membership) -> Membership:
    """The row as stored (not as an edited form left it in memory), locked until commit."""
    try:
        return (
            Membership.objects.select_for_update(of=("self",))
            .select_related("user", "organization")
            .get(pk=membership.pk)
        )
    except Membership.DoesNotExist:
        raise InvalidInput("That membership no longer exists.", code="membership_gone") from None


def _join(organization: Organization, *, user: User, role: str) -> Membership:
    try:
        # A savepoint: the refusal leaves the caller's transaction usable (PostgreSQL aborts a
        # transaction on a failed statement otherwise).
        with transaction.atomic():
            return Membership.objects.create(user=user, organization=organization, role=role)
    except IntegrityError:
        raise InvalidInput(
            f"{user.email} is already a member of {organization.name}.",
            code="already_a_member",
            field="user",
        ) from None


def _audit(
    actor: Actor,
    membership: Membership,
    *,
    change: str,
    before: str | None,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    return token_services.record_audit_event(
        action=AuditEvent.Action.MEMBERSHIP_CHANGED,
        actor=actor,
        organization=membership.organization,
        details={
            "user": membership.user.email,
            "user_id": membership.user_id,
            "change": change,
            "from": before,
            "to": membership.role if change != "removed" else None,
            **(extra or {}),
        },
    )
