"""Approval of members' tokens by an organisation admin (issue 17).

`issue_token` asks `approval_for` whether a new token waits for an admin; a pending token is
refused by the API (403 `token_pending_approval`, carried in the cached TokenState) until
`approve_token`. `deny_token` revokes it (never deletes); `expire_pending_requests` (beat)
revokes requests nobody decided on within REQUEST_DAYS.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from notifications.models import Notification
from notifications.services import queue_notification
from tokens import scopes as scope_rules
from tokens.actors import SYSTEM, USER, Actor
from tokens.exceptions import InvalidInput, PermissionDenied, TokenNotActive
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy
from tokens.services._common import forget_on_commit, locked, secret_hashes, token_context
from tokens.services.audit import record_audit_event

Approval = PersonalAccessToken.ApprovalState
REQUEST_DAYS = 7
MAX_JUSTIFICATION = 2000


def approval_for(*, policy: TokenPolicy, role: str, scopes, justification: str) -> tuple[str, str]:
    """(approval state, cleaned justification) for a new token; ("", "") when none is needed."""
    mode = policy.require_approval
    if role == Membership.Role.ADMIN or mode == TokenPolicy.Approval.OFF:
        return "", ""
    if mode == TokenPolicy.Approval.WRITE and not scope_rules.has_write_scope(scopes):
        return "", ""
    text = (justification or "").strip()
    if not text:
        raise InvalidInput(
            "Say why you need this token: an admin approves it before it works.",
            code="justification_required",
            field="justification",
        )
    if len(text) > MAX_JUSTIFICATION:
        raise InvalidInput(
            f"Keep the justification under {MAX_JUSTIFICATION} characters.",
            code="justification_too_long",
            field="justification",
        )
    return Approval.PENDING, text


def _require_admin(actor: Actor, token: PersonalAccessToken) -> None:
    if actor.kind == SYSTEM:
        return
    if (
        actor.kind != USER
        or actor.user is None
        or (
            Membership.objects.role_of(user=actor.user, organization=token.organization)
            != Membership.Role.ADMIN
        )
    ):
        raise PermissionDenied(
            "Only an admin of the token's organisation can decide on a request.",
            code="permission_denied",
        )


def _decide(token: PersonalAccessToken, *, actor: Actor, approved: bool, note: str):
    token = locked(token)
    _require_admin(actor, token)
    if not token.is_pending:
        raise TokenNotActive(
            f"This request was already decided ({token.get_approval_display() or 'none needed'}).",
            code="already_decided",
        )
    now = timezone.now()
    token.approval = Approval.APPROVED if approved else Approval.DENIED
    token.approval_decided_by = actor.user
    token.approval_decided_at = now
    token.approval_note = " ".join((note or "").split())[:500]
    fields = ["approval", "approval_decided_by", "approval_decided_at", "approval_note"]
    if not approved:
        token.revoked_at, token.revoked_by = now, actor.user
        token.revoked_by_kind = PersonalAccessToken.RevokedBy.DENIED
        token.revocation_reason = token.approval_note or "Request denied"
        fields += ["revoked_at", "revoked_by", "revoked_by_kind", "revocation_reason"]
    token.save(update_fields=fields)
    action = AuditEvent.Action.TOKEN_APPROVED if approved else AuditEvent.Action.TOKEN_DENIED
    record_audit_event(
        action=action, actor=actor, token=token, details={"note": token.approval_note}
    )
    queue_notification(
        kind=Notification.Kind.TOKEN_DECISION,
        user=token.owner,
        context=token_context(
            token, approved=approved, note=token.approval_note, actor_label=actor.label, when=now
        ),
        dedup_key=f"token_decision:{token.id}",
    )
    forget_on_commit(secret_hashes(token))
    return token


def approve_token(token: PersonalAccessToken, *, actor: Actor, note: str = ""):
    with transaction.atomic():
        return _decide(token, actor=actor, approved=True, note=note)


def deny_token(token: PersonalAccessToken, *, actor: Actor, note: str = ""):
    with transaction.atomic():
        return _decide(token, actor=actor, approved=False, note=note)


def expire_pending_requests(*, actor: Actor, now=None) -> int:
    """Revoke requests left undecided for REQUEST_DAYS. Returns how many."""
    now = now or timezone.now()
    due = PersonalAccessToken.objects.filter(
        approval=Approval.PENDING,
        revoked_at__isnull=True,
        created_at__lte=now - timedelta(days=REQUEST_DAYS),
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due):
        with transaction.atomic():
            token = locked(PersonalAccessToken(pk=pk))
            if not token.is_pending:
                continue
            token.approval = Approval.LAPSED
            token.revoked_at = now
            token.revoked_by_kind = PersonalAccessToken.RevokedBy.SYSTEM
            token.revocation_reason = f"Not approved within {REQUEST_DAYS} days"
            token.save(
                update_fields=["approval", "revoked_at", "revoked_by_kind", "revocation_reason"]
            )
            record_audit_event(
                action=AuditEvent.Action.TOKEN_REQUEST_LAPSED, actor=actor, token=token
            )
            forget_on_commit(secret_hashes(token))
            count += 1
    return count
