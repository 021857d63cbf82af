"""Requesting production access (issue 15): an organisation admin asks, ops decide.

`request_production_access` is the portal's "Request production access": admins only, one open
request per organisation, never for an organisation that already has production. Ops hear of it
by email. `approve_production_request` raises the level through `set_api_access`;
`decline_production_request` keeps it. Each step is an audit event and an email, written in
the step's transaction (the outbox).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.models import AuditEvent, ProductionAccessRequest
from tokens.services.access import set_api_access, tell_org_admins
from tokens.services.audit import record_audit_event

DESCRIPTION_MIN = 20


class AccessRequestError(TokenError):
    """A production-access request or decision that cannot be made (a stable `code`)."""

    status = 409


class AccessRequestForbidden(AccessRequestError):
    status = 403


def open_request_of(organization: Organization) -> ProductionAccessRequest | None:
    return (
        ProductionAccessRequest.objects.filter(
            organization=organization, state=ProductionAccessRequest.State.OPEN
        )
        .select_related("requested_by")
        .first()
    )


def request_production_access(
    organization: Organization, *, requested_by: User, description: str, actor: Actor
) -> ProductionAccessRequest:
    """Open a request for production access; ops are emailed."""
    if not Membership.objects.is_admin(user=requested_by, organization=organization):
        raise AccessRequestForbidden(
            "Only an organisation admin can request production access. Ask one of your "
            "organisation's admins.",
            code="not_an_admin",
        )
    description = _clean_description(description)
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        if org.api_access == Organization.ApiAccess.PRODUCTION:
            raise AccessRequestError(
                f"{org.name} already has production access: production tokens (qgp_) work.",
                code="already_production",
            )
        if open_request_of(org) is not None:
            raise AccessRequestError(
                "A request for production access is already waiting for Quaygate ops. You "
                "will get an email when it is decided.",
                code="request_open",
            )
        try:
            with transaction.atomic():
                access_request = ProductionAccessRequest.objects.create(
                    organization=org, requested_by=requested_by, description=description
                )
        except IntegrityError:  # a second click at the same moment: the partial index decided
            raise AccessRequestError(
                "A request for production access is already waiting for Quaygate ops.",
                code="request_open",
            ) from None
        record_audit_event(
            action=AuditEvent.Action.PRODUCTION_REQUESTED,
            actor=actor,
            organization=org,
            details={"request_id": access_request.pk, "from": org.api_access},
        )
        _tell_ops(access_request, org)
    return access_request


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) < DESCRIPTION_MIN:
        raise AccessRequestError(
            f"Describe the integration in at least {DESCRIPTION_MIN} characters: what it does "
            "with the data and who runs it.",
            code="description_required",
            field="description",
        )
    most = ProductionAccessRequest.DESCRIPTION_MAX
    if len(description) > most:
        raise AccessRequestError(
            f"Keep the description under {most:,} characters.",
            code="description_too_long",
            field="description",
        )
    return description


def _ops_recipients() -> list[str]:
    configured = settings.QUAYGATE.get("OPS_NOTIFY_EMAILS") or []
    if configured:
        return list(configured)
    return list(
        User.objects.filter(is_active=True, is_staff=True)
        .order_by("pk")
        .values_list("email", flat=True)
    )


def _tell_ops(access_request: ProductionAccessRequest, org: Organization) -> None:
    context = {
        "organization": org.name,
        "requested_by": access_request.requested_by.email,
        "description": access_request.description,
        "level": org.get_api_access_display(),
        "review_url": f"/admin/tokens/productionaccessrequest/{access_request.pk}/change/",
    }
    queue_notifications(
        [
            NotificationRequest(
                kind=Notification.Kind.PRODUCTION_REQUESTED,
                user=None,
                to_email=email,
                context=context,
                dedup_key=f"production_requested:{access_request.pk}:{email}",
            )
            for email in _ops_recipients()
        ]
    )


def approve_production_request(
    access_request: ProductionAccessRequest, *, actor: Actor, reason: str
) -> ProductionAccessRequest:
    """Grant production: the level goes to production (set_api_access), admins are told."""
    return _decide(access_request, approve=True, actor=actor, reason=reason)


def decline_production_request(
    access_request: ProductionAccessRequest, *, actor: Actor, reason: str
) -> ProductionAccessRequest:
    """Say no, with a reason the organisation's admins read. The level stays as it is."""
    return _decide(access_request, approve=False, actor=actor, reason=reason)


def _decide(
    access_request: ProductionAccessRequest, *, approve: bool, actor: Actor, reason: str
) -> ProductionAccessRequest:
    reason = (reason or "").strip()
    if not reason:
        raise AccessRequestError(
            "Give a reason: the organisation's admins read it.", code="reason_required"
        )
    state = ProductionAccessRequest.State
    with transaction.atomic():
        locked = (
            ProductionAccessRequest.objects.select_for_update()
            .select_related("organization")
            .get(pk=access_request.pk)
        )
        if not locked.is_open:
            raise AccessRequestError(
                f"This request was already {locked.get_state_display().lower()} "
                f"on {locked.decided_at:%Y-%m-%d %H:%M} UTC; nothing changed.",
                code="already_decided",
            )
        org = locked.organization
        locked.state = state.APPROVED if approve else state.DECLINED
        locked.decided_at, locked.decided_by = timezone.now(), actor.user
        locked.decision_reason = reason[:500]
        locked.save(update_fields=["state", "decided_at", "decided_by", "decision_reason"])
        if approve:
            set_api_access(
                org,
                level=Organization.ApiAccess.PRODUCTION,
                actor=actor,
                reason=f"Production request #{locked.pk} approved: {reason}",
                notify=False,
            )
        record_audit_event(
            action=AuditEvent.Action.PRODUCTION_APPROVED
            if approve
            else AuditEvent.Action.PRODUCTION_DECLINED,
            actor=actor,
            organization=org,
            details={"request_id": locked.pk, "reason": locked.decision_reason},
        )
        tell_org_admins(
            org,
            kind=Notification.Kind.PRODUCTION_DECIDED,
            key=f"production_decided:{locked.pk}",
            context={
                "approved": approve,
                "reason": locked.decision_reason,
                "actor_label": "Quaygate ops",
                "description": locked.description,
            },
        )
    access_request.__dict__.update(
        {k: getattr(locked, k) for k in ("state", "decided_at", "decided_by_id", "decision_reason")}
    )
    return locked
