"""The organisation policy "members must use two-factor authentication".

An admin who has 2FA turns it on. From then on a member without 2FA can sign in but do
nothing in the organisation except enrol, and gets a grace period (TWO_FACTOR_GRACE_DAYS, 7)
for their tokens: Membership.two_factor_deadline. Token verification reads the deadline with
the token (the one query, and then the cached state), so past it the token is refused with
401 and the audit reason `owner_without_2fa` with no extra query; the check is against the
clock, so no process needs telling when the deadline passes. Every change to a deadline drops
the cached states of the tokens it concerns on commit, as a revocation does.

The member is told by email at once, and again one day before the deadline (a beat task).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization, User
from core.errors import ServiceError
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens.actors import Actor
from tokens.models import AuditEvent, TokenSecret
from tokens.services import record_audit_event
from tokens.services._common import forget_on_commit

REMINDER_BEFORE = timedelta(days=1)


def security_path() -> str:
    """The portal's Security page, for emails: from the site's own URLs, whatever urlconf the
    request that led here was served by (tests serve stand-in urlconfs)."""
    return reverse("security", urlconf="portal.urls")


class TwoFactorPolicyError(ServiceError):
    """Turning the requirement on without 2FA yourself, or without being an admin."""


def grace_period() -> timedelta:
    return timedelta(days=settings.TWO_FACTOR_GRACE_DAYS)


def _forget_tokens(*conditions: Q, **filters) -> None:
    forget_on_commit(
        list(
            TokenSecret.objects.filter(*conditions, **filters).values_list("secret_hash", flat=True)
        )
    )


def _notice(membership: Membership, *, reminder: bool) -> NotificationRequest:
    deadline = membership.two_factor_deadline
    when = "reminder" if reminder else "start"
    return NotificationRequest(
        kind=Notification.Kind.TWO_FACTOR_REQUIRED,
        user=membership.user,
        context={
            "organization": membership.organization.name,
            "deadline": deadline,
            "reminder": reminder,
            "security_url": security_path(),
        },
        dedup_key=f"two_factor_required:{membership.pk}:{deadline.isoformat()}:{when}",
    )


def _start_grace(memberships: list[Membership], *, now: datetime) -> None:
    if not memberships:
        return
    deadline = now + grace_period()
    Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(
        two_factor_deadline=deadline
    )
    for membership in memberships:
        membership.two_factor_deadline = deadline
    queue_notifications([_notice(m, reminder=False) for m in memberships])
    pairs = Q()
    for membership in memberships:
        pairs |= Q(
            token__owner_id=membership.user_id, token__organization_id=membership.organization_id
        )
    _forget_tokens(pairs)


def set_two_factor_requirement(
    organization: Organization, *, required: bool, actor: Actor, now: datetime | None = None
) -> bool:
    """Turn the requirement on or off; False when it already was so."""
    if not actor.administers(organization):
        raise TwoFactorPolicyError(
            "Only an organisation admin can change this.", code="permission_denied"
        )
    if required and actor.user is not None and not actor.user.two_factor_enabled:
        raise TwoFactorPolicyError(
            "Set up two-factor authentication for yourself first (on your Security page): you "
            "cannot require of others what you do not use.",
            code="two_factor_required_first",
        )
    now = now or timezone.now()
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        if (org.two_factor_required_at is not None) == required:
            return False
        org.two_factor_required_at = now if required else None
        org.save(update_fields=["two_factor_required_at"])
        record_audit_event(
            action=AuditEvent.Action.TWO_FACTOR_POLICY_CHANGED,
            actor=actor,
            organization=org,
            details={"require_two_factor": required},
        )
        if required:
            members = Membership.objects.filter(
                organization=org, user__two_factor_enabled=False, user__is_active=True
            ).select_related("user", "organization")
            _start_grace(list(members), now=now)
        else:
            Membership.objects.filter(organization=org).update(two_factor_deadline=None)
            _forget_tokens(token__organization=org)
    organization.two_factor_required_at = org.two_factor_required_at
    return True


def start_grace_for(membership: Membership, *, now: datetime | None = None) -> None:
    """A new member of an organisation that requires 2FA, without 2FA: the same grace."""
    if membership.organization.two_factor_required_at is None:
        return
    if membership.user.two_factor_enabled:
        return
    _start_grace([membership], now=now or timezone.now())


def start_grace_everywhere(user: User, *, now: datetime | None = None) -> None:
    """The person lost 2FA (an ops reset): a grace period in each organisation requiring it."""
    memberships = Membership.objects.filter(
        user=user, organization__two_factor_required_at__isnull=False
    ).select_related("user", "organization")
    _start_grace(list(memberships), now=now or timezone.now())


def end_grace(user: User) -> None:
    """The person enrolled: no deadline anywhere, and their tokens work again at once."""
    if Membership.objects.filter(user=user, two_factor_deadline__isnull=False).update(
        two_factor_deadline=None
    ):
        _forget_tokens(token__owner=user)


def send_grace_reminders(*, now: datetime | None = None) -> int:
    """The "one day left" email to each member whose deadline falls within the next day.
    Dedup keys make it once per deadline however often beat runs it."""
    now = now or timezone.now()
    due = Membership.objects.filter(
        two_factor_deadline__gt=now,
        two_factor_deadline__lte=now + REMINDER_BEFORE,
        user__two_factor_enabled=False,
        user__is_active=True,
    ).select_related("user", "organization")
    return queue_notifications([_notice(m, reminder=True) for m in due])
