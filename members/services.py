"""Every change to an organisation's membership happens here: joining, a role change, removal,
leaving, and a membership handed to someone else. (Joining by invitation: members.invitations.)

Each service checks who may do it, writes the change and its audit event in one transaction,
and, when someone goes, revokes the personal tokens they hold in that organisation
(tokens.services.revoke_member_tokens) in that same transaction and emails them and the
organisation's admins: nobody is out of the organisation while their tokens still work. Service
tokens they created belong to the organisation and keep working; service accounts they were the
contact of need a new one (tokens.services.release_contact). An
organisation always keeps an admin: its last one can neither be demoted, removed nor leave.
The portal's members pages and the ops console's member inline call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Membership, Organization, User
from members.exceptions import MemberError
from members.rules import active_admins, clean_role, person, require_manage_members
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens import services as token_services
from tokens.actors import USER, Actor
from tokens.models import AuditEvent
from twofactor import policy as two_factor_policy


@dataclass(frozen=True, slots=True)
class Replacement:
    """A membership handed to someone else: the new member's row, who left, and how many of
    their tokens were revoked."""

    membership: Membership
    previous_user: User
    tokens_revoked: int


def add_member(organization: Organization, *, user: User, role: str, actor: Actor) -> Membership:
    """`user` joins `organization` with `role`. Returns the new membership."""
    require_manage_members(actor, organization)
    role = clean_role(role)
    with transaction.atomic():
        membership = _join(organization, user=user, role=role)
        _audit(actor, membership, change="added", before=None)
    return membership


def change_role(membership: Membership, *, role: str, actor: Actor) -> Membership:
    """A member becomes an admin or the other way round. Returns the membership as stored; no
    event when the role is already `role`."""
    require_manage_members(actor, membership.organization)
    role = clean_role(role)
    with transaction.atomic():
        membership = _locked(membership)
        before = membership.role
        if before == role:
            return membership
        if before == Membership.Role.ADMIN:
            _keep_an_admin(membership, doing="demoted")
        membership.role = role
        membership.save(update_fields=["role"])
        _audit(
            actor,
            membership,
            change="role",
            before=before,
            action=AuditEvent.Action.MEMBER_ROLE_CHANGED,
        )
    return membership


def remove_member(membership: Membership, *, actor: Actor) -> int:
    """An admin (or ops) takes the person out of the organisation: every token they hold there
    is revoked, their tokens in other organisations are not touched, and they and the
    organisation's admins are told. Returns how many tokens were revoked."""
    require_manage_members(actor, membership.organization)
    return _offboard(membership, actor=actor, left_themselves=False)


def leave_organization(membership: Membership, *, actor: Actor) -> int:
    """The person takes themselves out, with the same consequences as a removal. Returns how
    many of their tokens were revoked."""
    if actor.kind != USER or actor.user is None or actor.user.pk != membership.user_id:
        raise MemberError("Only the member themselves can leave.", code="permission_denied")
    return _offboard(membership, actor=actor, left_themselves=True)


def _offboard(membership: Membership, *, actor: Actor, left_themselves: bool) -> int:
    with transaction.atomic():
        membership = _locked(membership)
        if membership.is_admin:
            _keep_an_admin(membership, doing="leave" if left_themselves else "removed")
        action = (
            AuditEvent.Action.MEMBER_LEFT if left_themselves else AuditEvent.Action.MEMBER_REMOVED
        )
        _audit(actor, membership, change="removed", before=membership.role, action=action)
        membership_id = membership.pk  # delete() forgets it
        membership.delete()
        revoked = token_services.revoke_member_tokens(
            user=membership.user, organization=membership.organization, actor=actor
        )
        # Their service tokens stay (they are the organisation's); accounts they were the
        # contact of need a new one, and the admins are told.
        token_services.release_contact(
            user=membership.user, organization=membership.organization, actor=actor
        )
        _tell_about_removal(
            membership,
            membership_id=membership_id,
            actor=actor,
            revoked=revoked,
            left_themselves=left_themselves,
        )
    return revoked


def replace_member(membership: Membership, *, user: User, role: str, actor: Actor) -> Replacement:
    """The membership now belongs to `user` (the ops console lets a member row be pointed at
    someone else): the person it belonged to leaves, as in remove_member, and `user` joins, as
    in add_member. One event records both (change "replaced", with previous_user_id), so the
    log reads as the edit that was made."""
    require_manage_members(actor, membership.organization)
    role = clean_role(role)
    with transaction.atomic():
        previous = _locked(membership)
        if previous.user_id == user.pk:
            raise MemberError(f"{user.email} already holds this membership.", code="already_member")
        if previous.is_admin and role != Membership.Role.ADMIN:
            _keep_an_admin(previous, doing="demoted")
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
        token_services.release_contact(user=previous_user, organization=organization, actor=actor)
    return Replacement(membership=joined, previous_user=previous_user, tokens_revoked=revoked)


# --- the steps the services share ---------------------------------------------------------------


def _keep_an_admin(membership: Membership, *, doing: str) -> None:
    """Refuse to take away the organisation's last admin. The caller holds the organisation's
    lock (_locked), so no other change of its members runs between this count and the change."""
    admins = list(
        Membership.objects.filter(
            organization_id=membership.organization_id, role=Membership.Role.ADMIN
        ).values_list("pk", flat=True)
    )
    if admins == [membership.pk]:
        verb = {"leave": "cannot leave", "removed": "cannot be removed"}.get(
            doing, "cannot become a member"
        )
        raise MemberError(
            f"{membership.user.email} is the last admin of {membership.organization.name} and "
            f"{verb}. Make someone else an admin first.",
            code="last_admin",
        )


def _locked(membership: Membership) -> Membership:
    """The row as stored (not as an edited form left it in memory), locked until commit.

    The organisation's row is locked first: every membership change of one organisation then
    waits its turn at the same place, so two of them (two admins demoting each other) can
    never hold one membership each while waiting for the other's, which PostgreSQL would end
    as a deadlock."""
    list(
        Organization.objects.select_for_update().filter(pk=membership.organization_id).values("pk")
    )
    try:
        return (
            Membership.objects.select_for_update(of=("self",))
            .select_related("user", "organization")
            .get(pk=membership.pk)
        )
    except Membership.DoesNotExist:
        raise MemberError("That membership no longer exists.", code="membership_gone") from None


def _join(organization: Organization, *, user: User, role: str) -> Membership:
    try:
        # A savepoint: the refusal leaves the caller's transaction usable (PostgreSQL aborts a
        # transaction on a failed statement otherwise).
        with transaction.atomic():
            membership = Membership.objects.create(user=user, organization=organization, role=role)
            two_factor_policy.start_grace_for(membership)  # the organisation may require 2FA
            return membership
    except IntegrityError:
        raise MemberError(
            f"{user.email} is already a member of {organization.name}.",
            code="already_member",
            field="user",
        ) from None


def _audit(
    actor: Actor,
    membership: Membership,
    *,
    change: str,
    before: str | None,
    action: str = AuditEvent.Action.MEMBERSHIP_CHANGED,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    return token_services.record_audit_event(
        action=action,
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


def _tell_about_removal(
    membership: Membership, *, membership_id: int, actor: Actor, revoked: int, left_themselves: bool
) -> None:
    """The person who went and every admin of the organisation, one email each."""
    context = {
        "organization": membership.organization.name,
        "member_email": membership.user.email,
        "removed_by": "" if left_themselves else person(actor.user if actor.is_person else None),
        "tokens_revoked": revoked,
        "left_themselves": left_themselves,
    }
    recipients = [membership.user, *active_admins(membership.organization)]
    queue_notifications(
        [
            NotificationRequest(
                kind=Notification.Kind.MEMBER_REMOVED,
                user=recipient,
                context=context,
                dedup_key=f"member_removed:{membership_id}:{recipient.pk}",
            )
            for recipient in recipients
        ]
    )
