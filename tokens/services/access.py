"""The partner-API entitlement of an organisation (issue 15): set by ops, never by the org.

Changing the level or the plan writes an audit event and drops the cached state of every token
of the organisation on commit, exactly as a revocation does, so the next request on any node
sees the new level and the new ceiling (both are carried in the cached state). Nothing is
deleted when the level drops: tokens work again when it is restored. Every level change emails
the organisation's admins through the outbox, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organization, User
from core.errors import ServiceError
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens.actors import Actor
from tokens.models import AuditEvent, TokenSecret
from tokens.services._common import forget_on_commit
from tokens.services.audit import record_audit_event
from tokens.services.validation import MAX_RATE_LIMIT

# A plan with more live tokens than this is a typo, not a customer.
MAX_PLAN_TOKENS = 10_000
PLAN_FIELDS = (
    "plan_rate_limit_per_hour",
    "plan_sandbox_rate_limit_per_hour",
    "plan_max_active_tokens",
)


class InvalidApiAccess(ServiceError):
    """An unknown level or plan value, or a change without a reason."""


def api_access_page(organization: Organization) -> str:
    """The portal page where an organisation sees its access and asks for production."""
    return f"/orgs/{organization.slug}/api-access/"


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidApiAccess("Say why the API access changes.", code="reason_required")
    return reason[:500]


def set_api_access(
    organization: Organization, *, level: str, actor: Actor, reason: str, notify: bool = True
) -> bool:
    """Set `organization`'s API access to `level`; False when it already was.

    `notify=False` only for a caller that sends its own email about the same change (approving
    a production request tells the admins once, in the decision email)."""
    if level not in Organization.ApiAccess.values:
        raise InvalidApiAccess(f"Unknown API access level {level!r}.", code="invalid_level")
    reason = _clean_reason(reason)
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        before = org.api_access
        if before == level:
            return False
        Organization.objects.filter(pk=org.pk).update(api_access=level)
        event = record_audit_event(
            action=AuditEvent.Action.API_ACCESS_CHANGED,
            actor=actor,
            organization=org,
            details={"from": before, "to": level, "reason": reason},
        )
        _forget_org_tokens(org)
        if notify:
            org.api_access = level
            tell_org_admins(
                org,
                kind=Notification.Kind.API_ACCESS_CHANGED,
                key=f"api_access_changed:{event.pk}",
                context={
                    "level_from": Organization.ApiAccess(before).label,
                    "level_to": Organization.ApiAccess(level).label,
                    "level": level,
                    "reason": reason,
                    "actor_label": "Quaygate ops" if actor.kind == "ops" else actor.label,
                },
            )
    organization.api_access = level
    return True


def set_plan(
    organization: Organization,
    *,
    actor: Actor,
    reason: str,
    plan_rate_limit_per_hour: int | None,
    plan_sandbox_rate_limit_per_hour: int | None,
    plan_max_active_tokens: int | None,
) -> bool:
    """Set the organisation's plan (None: the site's default); False when nothing changed.

    Lowering the ceiling takes effect on the next request (cached states are dropped); lowering
    the token count revokes nothing, it only refuses new tokens until the count is below it."""
    wanted = {
        "plan_rate_limit_per_hour": _clean_limit(plan_rate_limit_per_hour, MAX_RATE_LIMIT),
        "plan_sandbox_rate_limit_per_hour": _clean_limit(
            plan_sandbox_rate_limit_per_hour, MAX_RATE_LIMIT
        ),
        "plan_max_active_tokens": _clean_limit(plan_max_active_tokens, MAX_PLAN_TOKENS),
    }
    reason = _clean_reason(reason)
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        changes = {
            name: {"from": getattr(org, name), "to": value}
            for name, value in wanted.items()
            if getattr(org, name) != value
        }
        if not changes:
            return False
        Organization.objects.filter(pk=org.pk).update(**wanted)
        record_audit_event(
            action=AuditEvent.Action.PLAN_CHANGED,
            actor=actor,
            organization=org,
            details={"changes": changes, "reason": reason},
        )
        _forget_org_tokens(org)
    for name, value in wanted.items():
        setattr(organization, name, value)
    return True


def _clean_limit(value: Any, most: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidApiAccess("A plan limit is a whole number.", code="invalid_plan") from None
    if not 1 <= number <= most:
        raise InvalidApiAccess(
            f"A plan limit is between 1 and {most:,}; leave it empty for the site's default.",
            code="invalid_plan",
        )
    return number


def _forget_org_tokens(org: Organization) -> None:
    hashes = list(
        TokenSecret.objects.filter(token__organization=org).values_list("secret_hash", flat=True)
    )
    forget_on_commit(hashes)


def tell_org_admins(
    organization: Organization, *, kind: str, key: str, context: dict[str, Any]
) -> int:
    """One email to each active admin of `organization` (in the caller's transaction)."""
    admins = list(User.objects.admins_of(organization.pk))
    full = {
        "organization": organization.name,
        "api_access_url": api_access_page(organization),
        **context,
    }
    return queue_notifications(
        [
            NotificationRequest(kind=kind, user=admin, context=full, dedup_key=f"{key}:{admin.pk}")
            for admin in admins
        ]
    )
