"""Invitations: an organisation's admin (or ops, or the command line) invites an address; the
person behind it follows the emailed link and joins. Accepting is the only way to sign up.

The link carries a random secret that exists only in the email and in the return value of
`invite_member` / `resend_invitation`: the row stores its keyed hash, the audit log stores the
address and the role, and nothing here logs either. Each service writes its rows, its audit
event and its emails in one transaction, as tokens.services does for tokens.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Membership, Organization, User
from core.redaction import contains_secret
from members.exceptions import InvitationError, MemberError
from members.models import INVITATION_LIFETIME, Invitation
from members.rules import active_admins, clean_role, person, require_manage_members
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notification, queue_notifications
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import AuditEvent
from twofactor import policy as two_factor_policy

MAX_PENDING_PER_ORGANIZATION = 50
EMAIL_MAX_LENGTH = 254
# secrets.token_urlsafe(32) is 43 characters of this alphabet; anything else is not ours.
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_HASH_DOMAIN = b"invitation:"


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    """A new or re-sent invitation with its secret and link path: shown once, never stored."""

    invitation: Invitation
    secret: str = field(repr=False)
    path: str = field(repr=False)


# --- the link ---------------------------------------------------------------------------------


def hash_invitation_secret(secret: str) -> str:
    """HMAC-SHA256 under TOKEN_HASH_KEY, hex. The domain prefix keeps an invitation's hash from
    ever equalling a token's hash of the same string (tokens hash the bare token)."""
    key = settings.TOKEN_HASH_KEY
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.digest(key_bytes, _HASH_DOMAIN + secret.encode("ascii"), "sha256").hex()


def invitation_path(secret: str) -> str:
    """The portal path of the link. Falls back to the literal path while no portal URL named
    "invitation" is routed (the outbox makes either absolute)."""
    try:
        return reverse("invitation", args=[secret])
    except NoReverseMatch:
        return f"/invitations/{secret}/"


def _new_secret() -> str:
    # 256 bits. A secret that happened to contain something shaped like a Quaygate token
    # (qgx_ + 20 base62) would be redacted out of the email by the outbox: draw again.
    while True:
        secret = secrets.token_urlsafe(32)
        if not contains_secret(secret):
            return secret


# --- inviting ---------------------------------------------------------------------------------


def invite_member(
    organization: Organization, *, email: str, role: str, actor: Actor
) -> IssuedInvitation:
    """Invite `email` into `organization` as `role` and email them the link. An open
    invitation to the same address is revoked first (its link stops working)."""
    require_manage_members(actor, organization)
    email, role = clean_email(email), clean_role(role)
    with transaction.atomic():
        # Invitations to one organisation queue here, so the cap and the one-open-invitation
        # rule are checked against rows no concurrent invite is changing.
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        _refuse_member(organization, email)
        open_rows = Invitation.objects.for_org(organization).open()
        _require_room(organization, open_rows.pending().exclude(email=email).count())
        now = timezone.now()
        replaced = sorted(open_rows.filter(email=email).values_list("pk", flat=True))
        open_rows.filter(pk__in=replaced).update(revoked_at=now)
        secret, secret_hash = _issue_secret()
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            invited_by=actor.user if actor.is_person else None,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
            secret_hash=secret_hash,
        )
        issued = IssuedInvitation(invitation, secret, invitation_path(secret))
        extra = {"replaces": replaced} if replaced else {}
        _audit(AuditEvent.Action.MEMBER_INVITED, actor, invitation, **extra)
        _send_invitation(issued, actor)
    return issued


def resend_invitation(invitation: Invitation, *, actor: Actor) -> IssuedInvitation:
    """A new link for a pending invitation, valid for another 7 days; the old link stops
    working."""
    require_manage_members(actor, invitation.organization)
    with transaction.atomic():
        invitation = _locked(invitation)
        _require_pending(invitation)
        _refuse_member(invitation.organization, invitation.email)
        secret, invitation.secret_hash = _issue_secret()
        invitation.expires_at = timezone.now() + INVITATION_LIFETIME
        invitation.save(update_fields=["secret_hash", "expires_at"])
        issued = IssuedInvitation(invitation, secret, invitation_path(secret))
        _audit(AuditEvent.Action.MEMBER_INVITED, actor, invitation, resent=True)
        _send_invitation(issued, actor)
    return issued


def revoke_invitation(invitation: Invitation, *, actor: Actor) -> Invitation:
    """The link stops working. Only a pending invitation can be revoked."""
    require_manage_members(actor, invitation.organization)
    with transaction.atomic():
        invitation = _locked(invitation)
        _require_pending(invitation)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _audit(AuditEvent.Action.INVITATION_REVOKED, actor, invitation)
    return invitation


def invitation_for_secret(secret: str) -> Invitation | None:
    """The invitation a link's secret belongs to, in whatever state; None for anything that is
    not one of our secrets (garbage, an overlong string, a link that never existed)."""
    if not isinstance(secret, str) or not _SECRET_SHAPE.fullmatch(secret):
        return None
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(secret_hash=hash_invitation_secret(secret))
        .first()
    )


def clean_email(email: str) -> str:
    """Stripped, lower-cased and checked, or MemberError(code="invalid_email")."""
    email = email.strip().lower() if isinstance(email, str) else ""
    if not email or len(email) > EMAIL_MAX_LENGTH:
        raise MemberError(
            f"Enter an email address of at most {EMAIL_MAX_LENGTH} characters.",
            code="invalid_email",
            field="email",
        )
    try:
        EmailValidator()(email)
    except ValidationError:
        raise MemberError(
            "Enter a valid email address.", code="invalid_email", field="email"
        ) from None
    return email


# --- accepting --------------------------------------------------------------------------------


def accept_invitation(
    secret: str,
    *,
    user: User | None,
    full_name: str = "",
    password: str = "",
    ip: str | None,
    user_agent: str,
) -> Membership:
    """Join the organisation through the link's secret.

    Signed in (`user`): the account's email must be the invited address. Not signed in: a new
    account is made for the invited address with `full_name` and `password`, which is the
    only way an account is ever made by the public. Accepting again as the same person
    returns the membership it made.
    """
    with transaction.atomic():
        invitation = _locked_by_secret(secret)
        again = _accepted_before_by(invitation, user)
        if again is not None:
            return again
        _require_acceptable(invitation)
        # The organisation invited, not the person who sent the link: it works as issued (same
        # role) even when the sender has since left or stopped being an admin. An admin who
        # wants it dead revokes it.
        joiner = _joining_user(invitation, user=user, full_name=full_name, password=password)
        membership, joined = _join(invitation, joiner)
        invitation.accepted_at, invitation.accepted_by = timezone.now(), joiner
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        if joined:
            actor = Actor.for_user(joiner, ip=ip, user_agent=user_agent)
            _audit(AuditEvent.Action.MEMBER_JOINED, actor, invitation, user_id=joiner.pk)
            _tell_admins(invitation, membership)
    return membership


def _locked_by_secret(secret: str) -> Invitation:
    found = invitation_for_secret(secret)
    if found is None:
        raise InvitationError(
            "This invitation link is not valid. Check that you copied all of it, or ask for a "
            "new invitation.",
            code="unknown",
        )
    return _locked(found)


def _accepted_before_by(invitation: Invitation, user: User | None) -> Membership | None:
    if invitation.accepted_at is None or user is None or invitation.accepted_by_id != user.pk:
        return None
    return (
        Membership.objects.select_related("organization", "user")
        .filter(user=user, organization=invitation.organization)
        .first()
    )


def _require_acceptable(invitation: Invitation) -> None:
    state = invitation.state
    if state == Invitation.State.PENDING:
        return
    messages = {
        Invitation.State.ACCEPTED: "This invitation has already been used.",
        Invitation.State.REVOKED: "This invitation was withdrawn.",
        Invitation.State.EXPIRED: "This invitation has expired.",
    }
    code = "used" if state == Invitation.State.ACCEPTED else str(state)
    raise InvitationError(
        f"{messages[state]} Ask an admin of {invitation.organization.name} for a new one.",
        code=code,
    )


def _joining_user(
    invitation: Invitation, *, user: User | None, full_name: str, password: str
) -> User:
    if user is not None:
        if user.email.lower() != invitation.email:
            raise InvitationError(
                f"This invitation is for {invitation.email}, but you are signed in as "
                f"{user.email}. Sign out and open the link again.",
                code="email_mismatch",
            )
        return user
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise _sign_in_first(invitation)
    name = _clean_full_name(full_name)
    _check_password(password, User(email=invitation.email, full_name=name))
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=invitation.email, password=password, full_name=name
            )
    except IntegrityError:  # the address signed up through another invitation just now
        raise _sign_in_first(invitation) from None


def _sign_in_first(invitation: Invitation) -> InvitationError:
    return InvitationError(
        f"There is already an account for {invitation.email}. Sign in, then open the link again.",
        code="sign_in_first",
    )


def _clean_full_name(full_name: str) -> str:
    name = full_name.strip() if isinstance(full_name, str) else ""
    limit = User._meta.get_field("full_name").max_length
    if not name or len(name) > limit or not name.isprintable():
        raise InvitationError(
            f"Enter your name: one line of at most {limit} characters.",
            code="invalid_name",
            field="full_name",
        )
    return name


def _check_password(password: str, candidate: User) -> None:
    try:
        if not isinstance(password, str) or not password:
            raise ValidationError("Choose a password.")
        password_validation.validate_password(password, user=candidate)
    except ValidationError as error:
        raise InvitationError(
            error.messages[0], code="invalid_password", field="password", messages=error.messages
        ) from None


def _join(invitation: Invitation, user: User) -> tuple[Membership, bool]:
    """The membership the invitation makes, and whether it is new. Someone already in the
    organisation (ops added them meanwhile) keeps the role they have: the link is used up."""
    organization = invitation.organization
    existing = Membership.objects.filter(user=user, organization=organization).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user, organization=organization, role=invitation.role
            )
    except IntegrityError:
        return Membership.objects.get(user=user, organization=organization), False
    two_factor_policy.start_grace_for(membership)  # the organisation may require 2FA
    return membership, True


# --- the steps the services share -------------------------------------------------------------


def _refuse_member(organization: Organization, email: str) -> None:
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise MemberError(
            f"{email} is already a member of {organization.name}.",
            code="already_member",
            field="email",
        )


def _require_room(organization: Organization, pending: int) -> None:
    # Re-inviting an address replaces its invitation, so the caller leaves that one out.
    if pending >= MAX_PENDING_PER_ORGANIZATION:
        raise MemberError(
            f"{organization.name} already has {MAX_PENDING_PER_ORGANIZATION} pending "
            "invitations. Revoke some, or wait for them to be accepted or expire.",
            code="too_many_pending",
        )


def _require_pending(invitation: Invitation) -> None:
    if not invitation.is_pending:
        raise MemberError(
            f"The invitation to {invitation.email} is {invitation.state}, not pending.",
            code="not_pending",
        )


def _locked(invitation: Invitation) -> Invitation:
    """The row as stored, locked until commit (two accepts of one link make one member)."""
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=invitation.pk)
    )


def _issue_secret() -> tuple[str, str]:
    secret = _new_secret()
    return secret, hash_invitation_secret(secret)


def _audit(action: str, actor: Actor, invitation: Invitation, **extra: object) -> AuditEvent:
    # The address and the role; never the secret, its hash or the link.
    return token_services.record_audit_event(
        action=action,
        actor=actor,
        organization=invitation.organization,
        details={
            "email": invitation.email,
            "role": invitation.role,
            "invitation_id": invitation.pk,
            **extra,
        },
    )


def _send_invitation(issued: IssuedInvitation, actor: Actor) -> None:
    invitation = issued.invitation
    queue_notification(
        kind=Notification.Kind.MEMBER_INVITED,
        # An existing account gets it as theirs (greeted by name); a new address by to_email.
        user=User.objects.filter(email__iexact=invitation.email).first(),
        to_email=invitation.email,
        context={
            "organization": invitation.organization.name,
            "invited_by": person(actor.user if actor.is_person else None),
            "role": Membership.Role(invitation.role).label,
            "is_admin": invitation.role == Membership.Role.ADMIN,
            "email": invitation.email,
            "expires_at": invitation.expires_at,
            "invitation_url": issued.path,
        },
        # One email per link: a re-send makes a new link and so a new email.
        dedup_key=f"member_invited:{invitation.pk}:{invitation.expires_at.isoformat()}",
    )


def _tell_admins(invitation: Invitation, membership: Membership) -> None:
    admins = active_admins(invitation.organization).exclude(pk=membership.user_id)
    context = {
        "organization": invitation.organization.name,
        "member_email": membership.user.email,
        "member_name": membership.user.full_name,
        "role": Membership.Role(membership.role).label,
        "is_admin": membership.is_admin,
        "invited_by": person(invitation.invited_by) if invitation.invited_by_id else "",
    }
    queue_notifications(
        [
            NotificationRequest(
                kind=Notification.Kind.MEMBER_JOINED,
                user=admin,
                context=context,
                dedup_key=f"member_joined:{invitation.pk}:{admin.pk}",
            )
            for admin in admins
        ]
    )
