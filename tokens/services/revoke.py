"""The end of a token: revoked by someone (or by a policy), or expired and recorded as such."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from notifications.models import Notification
from tokens.actors import ANONYMOUS, OPS, TOKEN, USER, Actor
from tokens.exceptions import InvalidInput
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy, TokenSecret
from tokens.services._common import (
    forget_on_commit,
    locked,
    notify_about_token,
    require_manage,
    secret_hashes,
    token_context,
)
from tokens.services.audit import announce_audit_events, audit_event, record_audit_event

Action = AuditEvent.Action
RevokedBy = PersonalAccessToken.RevokedBy

_DEFAULT_REASONS = {
    RevokedBy.OWNER: "Revoked by its owner",
    RevokedBy.ORG_ADMIN: "Revoked by an organisation admin",
    RevokedBy.OPS: "Revoked by Quaygate ops",
    RevokedBy.LEAK_REPORT: "Reported as leaked",
    RevokedBy.SYSTEM: "Revoked by the system",
}


def _revoked_by(actor: Actor, token: PersonalAccessToken) -> str:
    if actor.kind == OPS:
        return RevokedBy.OPS
    if actor.kind == TOKEN:
        return RevokedBy.OWNER  # the token revoked itself: its owner's software did it
    if actor.kind == USER and actor.user is not None:
        if actor.user.pk == token.owner_id and token.service_account_id is None:
            return RevokedBy.OWNER
        return RevokedBy.ORG_ADMIN
    if actor.kind == ANONYMOUS:
        return RevokedBy.LEAK_REPORT
    return RevokedBy.SYSTEM


def revoke_token(
    token: PersonalAccessToken,
    *,
    actor: Actor,
    reason: str = "",
    kind: str | None = None,
    notice: Mapping[str, str] | None = None,
) -> PersonalAccessToken:
    """Revoke for good. Idempotent: a revoked token is returned unchanged, nothing written.

    Revoking never deletes: the token row keeps its audit trail and usage history. `notice`
    adds plain facts to the owner's email (where a leaked token was found).
    """
    with transaction.atomic():
        token = locked(token)
        require_manage(actor, token)
        if token.revoked_at is not None:
            return token
        kind = kind or _revoked_by(actor, token)
        if kind not in RevokedBy.values:
            raise InvalidInput(f"Unknown revocation kind {kind!r}.", code="invalid_kind")
        reason = " ".join((reason or "").split())[:500] or _DEFAULT_REASONS.get(kind, "Revoked")
        now = timezone.now()
        token.revoked_at = now
        token.revoked_by = actor.user
        token.revoked_by_kind = kind
        token.revocation_reason = reason
        token.save(
            update_fields=["revoked_at", "revoked_by", "revoked_by_kind", "revocation_reason"]
        )
        _announce_revocation(
            token, actor=actor, kind=kind, reason=reason, now=now, notice=notice or {}
        )
        forget_on_commit(secret_hashes(token))
    return token


def _announce_revocation(
    token: PersonalAccessToken,
    *,
    actor: Actor,
    kind: str,
    reason: str,
    now: datetime,
    notice: Mapping[str, str],
) -> None:
    """The audit event and the owner's email, in the revoking transaction."""
    record_audit_event(
        action=Action.TOKEN_REVOKED,
        actor=actor,
        token=token,
        details={"reason": reason, "revoked_by": kind},
    )
    # Always, even when the owner did it: a security notice is also the record that it
    # happened, and "you" is an answer to "who revoked it?" that a hijacked session changes.
    leaked = kind == RevokedBy.LEAK_REPORT
    notify_about_token(
        token,
        kind=Notification.Kind.TOKEN_LEAKED if leaked else Notification.Kind.TOKEN_REVOKED,
        # The notice's facts never replace the standard ones.
        context={
            **notice,
            **token_context(
                token,
                actor_label="" if leaked else actor.label,
                revoked_by=token.get_revoked_by_kind_display(),
                reason=reason,
                ip=actor.ip,
                when=now,
            ),
        },
        dedup_key=f"token_revoked:{token.id}",
    )


def revoke_member_tokens(*, user: User, organization: Organization, actor: Actor) -> int:
    """A person left an organisation: every personal token they hold there stops working for
    good (expired ones too, so they cannot be regenerated). Service tokens they created are the
    organisation's and keep working. Returns how many were revoked."""
    tokens = PersonalAccessToken.objects.personal().filter(
        owner=user, organization=organization, revoked_at__isnull=True
    )
    reason = f"{user.email} is no longer a member of {organization.name}"
    revoked = 0
    for token in tokens.iterator(chunk_size=200):
        revoke_token(token, actor=actor, reason=reason)
        revoked += 1
    return revoked


# --- scheduled --------------------------------------------------------------------------------


def expire_due_tokens(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Record, once, that tokens have expired: an audit event each, cached states dropped.

    Expiry itself needs no write (verification compares `expires_at`); this gives the audit log
    its "expired" line. The owner's "expired" email is the expiry scan's (tokens.expiry), so it
    goes once. Batches keep each transaction short on a million tokens.
    """
    now = now or timezone.now()
    actor = Actor.system("expiry")
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                PersonalAccessToken.objects.filter(
                    revoked_at__isnull=True, expired_recorded_at__isnull=True, expires_at__lte=now
                )
                .order_by("expires_at", "id")
                .select_for_update(skip_locked=True)[:batch_size]
            )
            if not batch:
                return done
            ids = [token.id for token in batch]
            PersonalAccessToken.objects.filter(id__in=ids).update(expired_recorded_at=now)
            events = AuditEvent.objects.bulk_create(
                audit_event(
                    action=Action.TOKEN_EXPIRED,
                    actor=actor,
                    token=token,
                    created_at=now,
                    details={"expires_at": token.expires_at.isoformat()},
                )
                for token in batch
            )
            announce_audit_events(events)
            forget_on_commit(
                list(
                    TokenSecret.objects.filter(token_id__in=ids).values_list(
                        "secret_hash", flat=True
                    )
                )
            )
        done += len(batch)


def revoke_unused_tokens(*, now: datetime | None = None) -> int:
    """Revoke live tokens unused for longer than their organisation's policy allows."""
    now = now or timezone.now()
    actor = Actor.system("unused-token policy")
    revoked = 0
    policies = TokenPolicy.objects.filter(revoke_unused_after_days__isnull=False)
    for policy in policies.select_related("organization"):
        cutoff = now - timedelta(days=policy.revoke_unused_after_days)
        stale = (
            PersonalAccessToken.objects.active().for_org(policy.organization).unused_since(cutoff)
        )
        for token in stale.iterator(chunk_size=500):
            revoke_token(
                token,
                actor=actor,
                kind=RevokedBy.UNUSED,
                reason=f"Not used for {policy.revoke_unused_after_days} days",
            )
            revoked += 1
    return revoked
