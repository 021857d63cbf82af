"""Account events: signing in and changing a password. The portal's views call these; the audit
events and the security notice come from here, as token changes come from tokens.services."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization, User
from notifications.models import Notification
from notifications.services import queue_notification
from tokens.actors import Actor
from tokens.models import AuditEvent
from tokens.services import record_audit_event


def _organizations(user: User | None) -> list[Organization | None]:
    if user is None:
        return [None]
    return list(Organization.objects.filter(memberships__user=user)) or [None]


def record_sign_in(user: User | None, *, succeeded: bool, ip: str | None, user_agent: str) -> None:
    """One event per organisation of the account, so each organisation's log shows it.

    A failed attempt names the account only when it exists: what was typed into the email field
    of a failed attempt may be a password typed into the wrong box.
    """
    if succeeded and user is not None:
        actor = Actor.for_user(user, ip=ip, user_agent=user_agent)
        action, details = AuditEvent.Action.USER_LOGIN, {}
    else:
        actor = Actor.anonymous(ip=ip, user_agent=user_agent)
        action = AuditEvent.Action.USER_LOGIN_FAILED
        details = {"account": user.email} if user else {"account": "unknown"}
    for organization in _organizations(user):
        record_audit_event(action=action, actor=actor, organization=organization, details=details)


def record_password_change(user: User, *, how: str, ip: str | None, user_agent: str) -> None:
    """A security notice to the account's address and an audit event in each of its
    organisations, as for a sign-in: someone who took over a session, or the mailbox, and
    changed the password is seen by the owner and by their organisations' admins.

    `how`: "changed" (the account page, knowing the old password) or "reset" (an email link).
    """
    actor = Actor.for_user(user, ip=ip, user_agent=user_agent)
    now = timezone.now()
    with transaction.atomic():
        for organization in _organizations(user):
            record_audit_event(
                action=AuditEvent.Action.PASSWORD_CHANGED,
                actor=actor,
                organization=organization,
                details={"how": how},
            )
        queue_notification(
            kind=Notification.Kind.PASSWORD_CHANGED,
            user=user,
            context={"how": how, "ip": ip, "when": now, "reset_url": reverse("password_reset")},
            dedup_key=f"password_changed:{user.pk}:{now.isoformat()}",
        )
