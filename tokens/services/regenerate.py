"""Regenerating a token: a new secret with the same settings (from the portal, the API, a
command), or rotating it (the token itself asks, through the API)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from notifications.models import Notification
from tokens import format as token_format
from tokens.actors import TOKEN, Actor
from tokens.exceptions import InvalidInput, TokenNotActive
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy, TokenSecret
from tokens.services._common import (
    DEFAULT_EXPIRY,
    IssuedToken,
    forget_on_commit,
    hash_secret,
    locked,
    notify_about_token,
    require_manage,
    secret_hashes,
    token_context,
)
from tokens.services.audit import record_audit_event
from tokens.services.policy import policy_for
from tokens.services.validation import clean_expiry, clean_ips, clean_scopes

Action = AuditEvent.Action

MAX_OVERLAP_HOURS = 24


def regenerate_token(
    token: PersonalAccessToken,
    *,
    actor: Actor,
    overlap_hours: int = 0,
    expires_at: datetime | None = DEFAULT_EXPIRY,
) -> IssuedToken:
    """A new secret with the same settings and a fresh expiry within the policy.

    The old secret stops working at once, or — when `overlap_hours` (at most 24) is given — is
    still accepted that long, so a deployment can switch without downtime. An expired token can
    be regenerated (as on GitHub); a revoked one cannot.
    """
    _check_overlap(overlap_hours)
    secret = token_format.generate(token.kind)
    with transaction.atomic():
        token = locked(token)
        require_manage(actor, token)
        if token.revoked_at is not None:
            raise TokenNotActive(
                "A revoked token cannot be regenerated. Create a new one.", code="token_revoked"
            )
        now = timezone.now()
        expires_at = _expiry_under_policy(token, expires_at=expires_at, now=now)
        old_hashes = secret_hashes(token)
        new_secret, valid_until = _replace_secret(
            token, secret=secret, overlap_hours=overlap_hours, now=now
        )
        previous_prefix = token.display_prefix
        token.display_prefix = new_secret.display_prefix
        token.expires_at = expires_at
        token.regenerated_at = now
        token.save(update_fields=["display_prefix", "expires_at", "regenerated_at"])
        _announce_regeneration(
            token,
            actor=actor,
            previous_prefix=previous_prefix,
            overlap_hours=overlap_hours,
            valid_until=valid_until,
            new_secret=new_secret,
            now=now,
        )
        forget_on_commit(old_hashes)
    return IssuedToken(token=token, secret=secret)


def _check_overlap(overlap_hours: int) -> None:
    if isinstance(overlap_hours, bool) or not isinstance(overlap_hours, int):
        raise InvalidInput(
            "The overlap is a whole number of hours.", code="invalid_overlap", field="overlap_hours"
        )
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(
            f"The old secret can stay valid for 0 to {MAX_OVERLAP_HOURS} hours.",
            code="invalid_overlap",
            field="overlap_hours",
        )


def _expiry_under_policy(
    token: PersonalAccessToken, *, expires_at: datetime | None, now: datetime
) -> datetime | None:
    """The new expiry, once the token's settings pass today's policy."""
    policy = policy_for(token.organization)
    # A service token is the organisation's, made by an admin: its creator's role today
    # does not narrow it (only the policy's rules for every token do).
    role = (
        Membership.Role.ADMIN
        if token.service_account_id is not None
        else Membership.objects.role_of(user=token.owner, organization=token.organization)
    ) or Membership.Role.MEMBER
    # Policy tightened since the token was made: regeneration never carries old rights over.
    clean_scopes(token.scopes, policy=policy, role=role)
    clean_ips(token.allowed_ips, policy=policy)
    if expires_at is DEFAULT_EXPIRY:
        expires_at = _same_lifetime(token, policy=policy, now=now)
    return clean_expiry(expires_at, policy=policy, now=now)


def _same_lifetime(
    token: PersonalAccessToken, *, policy: TokenPolicy, now: datetime
) -> datetime | None:
    if token.expires_at is None:
        return None if policy.allow_no_expiry else now + policy.max_lifetime
    began = token.regenerated_at or token.created_at
    lifetime = max(token.expires_at - began, timedelta(days=1))
    return now + min(lifetime, policy.max_lifetime)


def _replace_secret(
    token: PersonalAccessToken, *, secret: str, overlap_hours: int, now: datetime
) -> tuple[TokenSecret, datetime | None]:
    """Retire the current secret (kept working `overlap_hours`) and store the new one's hash.
    Returns the new secret's row and when the old one stops working (None: now)."""
    # One previous secret at a time, as with Stripe's roll: older overlaps end now.
    TokenSecret.objects.filter(token=token, retired_at__isnull=False, valid_until__gt=now).update(
        valid_until=now
    )
    valid_until = now + timedelta(hours=overlap_hours) if overlap_hours else None
    TokenSecret.objects.filter(token=token, retired_at__isnull=True).update(
        retired_at=now, valid_until=valid_until
    )
    new_secret = TokenSecret.objects.create(
        token=token,
        secret_hash=hash_secret(secret),
        display_prefix=token_format.display_prefix(secret),
        created_at=now,
    )
    return new_secret, valid_until


def _announce_regeneration(
    token: PersonalAccessToken,
    *,
    actor: Actor,
    previous_prefix: str,
    overlap_hours: int,
    valid_until: datetime | None,
    new_secret: TokenSecret,
    now: datetime,
) -> None:
    """The audit event (rotated, when the token did it itself) and the owner's email."""
    self_rotation = actor.kind == TOKEN
    expires_at = token.expires_at
    record_audit_event(
        action=Action.TOKEN_ROTATED if self_rotation else Action.TOKEN_REGENERATED,
        actor=actor,
        token=token,
        details={
            "previous_prefix": previous_prefix,
            "overlap_hours": overlap_hours,
            "old_secret_valid_until": valid_until.isoformat() if valid_until else None,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    notify_about_token(
        token,
        kind=Notification.Kind.TOKEN_REGENERATED,
        context=token_context(
            token,
            actor_label=actor.label,
            old_secret_valid_until=valid_until,
            ip=actor.ip,
            when=now,
        ),
        dedup_key=f"token_regenerated:{token.id}:{new_secret.id}",
    )
