"""Every change to a token happens here, and only here.

Each service checks who may do it and what the organisation's policy allows, writes the change
and its AuditEvent in one transaction, queues the owner's email in that same transaction (the
outbox), and drops the token's cached state once the transaction commits, so the very next API
request anywhere sees the change. Portal views, API views, admin actions, management commands
and Celery tasks call these functions; none repeats their steps.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership, Organization, User
from fleet.models import Terminal
from notifications.models import Notification
from notifications.services import queue_notification
from tokens import cache as token_cache
from tokens import format as token_format
from tokens import scopes as scope_rules
from tokens.actors import ANONYMOUS, CLI, OPS, SYSTEM, TOKEN, USER, Actor
from tokens.exceptions import (
    InvalidInput,
    PermissionDenied,
    PolicyViolation,
    TokenNotActive,
)
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy, TokenSecret

logger = logging.getLogger(__name__)

Action = AuditEvent.Action
RevokedBy = PersonalAccessToken.RevokedBy


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_EXPIRY"


# "The policy's longest lifetime" (issue) or "the same lifetime as before" (regenerate).
DEFAULT_EXPIRY: Any = _Default()
_UNCHANGED: Any = object()

MAX_OVERLAP_HOURS = 24
MAX_ALLOWED_IPS = 50
MAX_RATE_LIMIT = 1_000_000
MAX_LIFETIME_DAYS = 3650
# A form that offers "90 days" computes the date a moment before the service checks it.
_EXPIRY_SLACK = timedelta(minutes=5)
_AUDIT_THROTTLE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: PersonalAccessToken
    secret: str  # shown once to its owner; never logged, stored or emailed

    def __repr__(self) -> str:  # a stray print() or log line must not leak the secret
        return f"IssuedToken(token={self.token!r}, secret='{self.token.display_prefix}…')"


def hash_secret(secret: str) -> str:
    return token_format.keyed_hash(secret, settings.TOKEN_HASH_KEY)


# --- audit ------------------------------------------------------------------------------------


def record_audit_event(
    *,
    action: str,
    actor: Actor,
    token: PersonalAccessToken | None = None,
    organization: Organization | None = None,
    details: dict[str, Any] | None = None,
    token_prefix: str = "",
) -> AuditEvent:
    """Append one event to the audit log (in the caller's transaction)."""
    organization_id = (
        organization.id if organization else (token.organization_id if token else None)
    )
    return AuditEvent.objects.create(
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_token=actor.token,
        actor_label=actor.label[:200],
        action=action,
        organization_id=organization_id,
        token=token,
        token_prefix=(token_prefix or (token.display_prefix if token else ""))[:8],
        ip=actor.ip,
        user_agent=actor.user_agent[:300],
        details=details or {},
    )


def _throttled(key: str) -> bool:
    """True when `key` was seen in the last minute (so the caller skips a repeated write)."""
    try:
        return not django_cache.add(key, 1, _AUDIT_THROTTLE_SECONDS)
    except Exception:  # a cache that is down must not turn a 401 into a 500
        return False


# --- policy -----------------------------------------------------------------------------------


def policy_for(organization: Organization) -> TokenPolicy:
    policy, _ = TokenPolicy.objects.get_or_create(organization=organization)
    return policy


def _role(user: User, organization: Organization) -> str | None:
    return (
        Membership.objects.filter(user=user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )


def _may_manage(actor: Actor, token: PersonalAccessToken) -> bool:
    if actor.kind in (OPS, SYSTEM, CLI, ANONYMOUS):
        return True
    if actor.kind == TOKEN:
        return actor.token is not None and actor.token.pk == token.pk
    if actor.kind == USER and actor.user is not None:
        if actor.user.pk == token.owner_id:
            return True
        return _role(actor.user, token.organization) == Membership.Role.ADMIN
    return False


def _require_manage(actor: Actor, token: PersonalAccessToken) -> None:
    if not _may_manage(actor, token):
        raise PermissionDenied(
            "Only the token's owner or an admin of its organisation can do that.",
            code="permission_denied",
        )


def _clean_name(name: str, *, owner: User, exclude_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Give the token a name.", code="name_required", field="name")
    if len(name) > 100:
        raise InvalidInput(
            "Keep the name under 100 characters.", code="name_too_long", field="name"
        )
    if not name.isprintable():
        raise InvalidInput(
            "The name has characters that cannot be shown.", code="invalid_name", field="name"
        )
    taken = PersonalAccessToken.objects.filter(owner=owner, name=name, revoked_at__isnull=True)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise InvalidInput(
            f"You already have a token called “{name}”. Pick another name, or revoke the old one.",
            code="name_taken",
            field="name",
        )
    return name


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 1000:
        raise InvalidInput(
            "Keep the description under 1,000 characters.",
            code="description_too_long",
            field="description",
        )
    return description


def _clean_scopes(scopes: Iterable[str], *, policy: TokenPolicy, role: str) -> list[str]:
    try:
        cleaned = scope_rules.normalize(list(scopes or ()))
    except ValueError as error:
        raise InvalidInput(str(error), code="invalid_scope", field="scopes") from None
    if not cleaned:
        raise InvalidInput("Choose at least one scope.", code="scope_required", field="scopes")
    if role != Membership.Role.ADMIN:
        allowed = scope_rules.normalize(policy.member_scopes)
        refused = [scope for scope in cleaned if scope not in allowed]
        if refused:
            raise PolicyViolation(
                f"Your organisation lets members grant only: {', '.join(allowed) or 'nothing'}. "
                f"Ask an organisation admin for {', '.join(refused)}.",
                code="scope_not_allowed",
                field="scopes",
            )
    return cleaned


def _clean_ips(allowed_ips: Iterable[str], *, policy: TokenPolicy) -> list[str]:
    cleaned: list[str] = []
    for entry in allowed_ips or ():
        text = str(entry).strip()
        if not text:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidInput(
                f"“{text[:60]}” is not an IP address or CIDR range (like 203.0.113.0/24 or 2001:db8::/48).",
                code="invalid_ip",
                field="allowed_ips",
            ) from None
        if str(network) not in cleaned:
            cleaned.append(str(network))
    if len(cleaned) > MAX_ALLOWED_IPS:
        raise InvalidInput(
            f"An allow-list holds at most {MAX_ALLOWED_IPS} ranges.",
            code="too_many_ips",
            field="allowed_ips",
        )
    if policy.require_ip_allowlist and not cleaned:
        raise PolicyViolation(
            "Your organisation requires an IP allow-list on every token.",
            code="ip_allowlist_required",
            field="allowed_ips",
        )
    return cleaned


def _clean_terminals(
    terminal_access: str, terminals: Iterable[Terminal | int], *, organization: Organization
) -> list[Terminal]:
    if terminal_access not in PersonalAccessToken.TerminalAccess.values:
        raise InvalidInput(
            "Terminal access is either “all” or “selected”.",
            code="invalid_terminal_access",
            field="terminal_access",
        )
    ids = {t.pk if isinstance(t, Terminal) else int(t) for t in terminals or ()}
    if terminal_access == PersonalAccessToken.TerminalAccess.ALL:
        return []
    found = list(Terminal.objects.filter(organization=organization, pk__in=ids))
    if not ids:
        raise InvalidInput(
            "Select at least one terminal, or give access to all of them.",
            code="terminal_required",
            field="terminals",
        )
    if len(found) != len(ids):
        raise InvalidInput(
            "Only your organisation's terminals can be selected.",
            code="invalid_terminal",
            field="terminals",
        )
    return found


def _clean_expiry(
    expires_at: datetime | None, *, policy: TokenPolicy, now: datetime
) -> datetime | None:
    if expires_at is None:
        if not policy.allow_no_expiry:
            raise PolicyViolation(
                f"Tokens in your organisation must expire, within {policy.max_lifetime_days} days.",
                code="no_expiry_not_allowed",
                field="expires_at",
            )
        return None
    if timezone.is_naive(expires_at):
        raise InvalidInput(
            "The expiry needs a time zone.", code="invalid_expiry", field="expires_at"
        )
    if expires_at <= now:
        raise InvalidInput(
            "The expiry must be in the future.", code="invalid_expiry", field="expires_at"
        )
    if expires_at > now + policy.max_lifetime + _EXPIRY_SLACK:
        raise PolicyViolation(
            f"Tokens in your organisation expire within {policy.max_lifetime_days} days.",
            code="policy_max_lifetime",
            field="expires_at",
        )
    return expires_at


def _clean_rate_limit(rate_limit: int | None, *, policy: TokenPolicy, role: str) -> int | None:
    if rate_limit in (None, ""):
        return None
    try:
        rate_limit = int(rate_limit)
    except (TypeError, ValueError):
        raise InvalidInput(
            "The rate limit is a whole number of requests per hour.",
            code="invalid_rate_limit",
            field="rate_limit_per_hour",
        ) from None
    if not 1 <= rate_limit <= MAX_RATE_LIMIT:
        raise InvalidInput(
            f"The rate limit is between 1 and {MAX_RATE_LIMIT:,} requests per hour.",
            code="invalid_rate_limit",
            field="rate_limit_per_hour",
        )
    if role != Membership.Role.ADMIN and rate_limit > policy.default_rate_limit_per_hour:
        raise PolicyViolation(
            f"Members can set a rate limit up to the organisation's "
            f"{policy.default_rate_limit_per_hour:,} requests per hour; an admin can raise it.",
            code="rate_limit_not_allowed",
            field="rate_limit_per_hour",
        )
    return rate_limit


# --- issue ------------------------------------------------------------------------------------


def _token_context(token: PersonalAccessToken, **extra: Any) -> dict[str, Any]:
    return {
        "token_name": token.name,
        "display_prefix": token.display_prefix,
        "organization": token.organization.name,
        "token_url": f"/tokens/{token.id}/",
        **extra,
    }


def issue_token(
    *,
    owner: User,
    organization: Organization,
    name: str,
    scopes: Sequence[str],
    actor: Actor,
    description: str = "",
    expires_at: datetime | None = DEFAULT_EXPIRY,
    terminal_access: str = PersonalAccessToken.TerminalAccess.ALL,
    terminals: Iterable[Terminal | int] = (),
    allowed_ips: Iterable[str] = (),
    rate_limit_per_hour: int | None = None,
    notify_on_new_ip: bool = False,
) -> IssuedToken:
    """A new token for `owner` in `organization`. The secret exists only in the return value."""
    if actor.kind in (USER, TOKEN) and (actor.user is None or actor.user.pk != owner.pk):
        raise PermissionDenied(
            "People create tokens for themselves only.", code="permission_denied"
        )
    role = _role(owner, organization)
    if role is None:
        raise PermissionDenied(
            f"{owner.email} is not a member of {organization.name}.", code="not_a_member"
        )
    now = timezone.now()
    policy = policy_for(organization)
    if expires_at is DEFAULT_EXPIRY:
        expires_at = now + policy.max_lifetime
    cleaned = {
        "name": _clean_name(name, owner=owner),
        "description": _clean_description(description),
        "scopes": _clean_scopes(scopes, policy=policy, role=role),
        "allowed_ips": _clean_ips(allowed_ips, policy=policy),
        "expires_at": _clean_expiry(expires_at, policy=policy, now=now),
        "rate_limit_per_hour": _clean_rate_limit(rate_limit_per_hour, policy=policy, role=role),
    }
    selected = _clean_terminals(terminal_access, terminals, organization=organization)
    secret = token_format.generate()
    try:
        with transaction.atomic():
            token = PersonalAccessToken.objects.create(
                owner=owner,
                organization=organization,
                display_prefix=token_format.display_prefix(secret),
                terminal_access=terminal_access,
                notify_on_new_ip=bool(notify_on_new_ip),
                created_at=now,
                created_from_ip=actor.ip,
                created_user_agent=actor.user_agent[:300],
                **cleaned,
            )
            if selected:
                token.terminals.set(selected)
            TokenSecret.objects.create(
                token=token,
                secret_hash=hash_secret(secret),
                display_prefix=token.display_prefix,
                created_at=now,
            )
            record_audit_event(
                action=Action.TOKEN_CREATED,
                actor=actor,
                token=token,
                details=_settings_details(token, selected),
            )
            queue_notification(
                kind=Notification.Kind.TOKEN_CREATED,
                user=owner,
                context=_token_context(token, actor_label=actor.label, ip=actor.ip, when=now),
                dedup_key=f"token_created:{token.id}",
            )
    except IntegrityError:
        # Two requests with the same name at the same moment: the partial unique index decided.
        raise InvalidInput(
            f"You already have a token called “{cleaned['name']}”.", code="name_taken", field="name"
        ) from None
    return IssuedToken(token=token, secret=secret)


def _settings_details(token: PersonalAccessToken, terminals: Sequence[Terminal]) -> dict:
    return {
        "name": token.name,
        "scopes": list(token.scopes),
        "terminal_access": token.terminal_access,
        "terminals": sorted(t.code for t in terminals),
        "allowed_ips": list(token.allowed_ips),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "rate_limit_per_hour": token.rate_limit_per_hour,
    }


# --- regenerate -------------------------------------------------------------------------------


def _locked(token: PersonalAccessToken) -> PersonalAccessToken:
    return (
        PersonalAccessToken.objects.select_for_update(of=("self",))
        .select_related("organization", "owner")
        .get(pk=token.pk)
    )


def _hashes(token: PersonalAccessToken) -> list[str]:
    return list(TokenSecret.objects.filter(token=token).values_list("secret_hash", flat=True))


def _forget_on_commit(hashes: list[str]) -> None:
    """Tombstone the cached states now and again once the change commits.

    Now: from this moment no request can cache the token's state (`remember` writes only where
    no key exists), so none caches the old state while we commit. On commit: the tombstones'
    TTL starts again after the change is visible. A rollback only costs a minute of uncached
    lookups.
    """
    token_cache.forget(hashes)
    transaction.on_commit(lambda: token_cache.forget(hashes))


def _same_lifetime(token: PersonalAccessToken, *, policy: TokenPolicy, now: datetime):
    if token.expires_at is None:
        return None if policy.allow_no_expiry else now + policy.max_lifetime
    began = token.regenerated_at or token.created_at
    lifetime = max(token.expires_at - began, timedelta(days=1))
    return now + min(lifetime, policy.max_lifetime)


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
    secret = token_format.generate()
    with transaction.atomic():
        token = _locked(token)
        _require_manage(actor, token)
        if token.revoked_at is not None:
            raise TokenNotActive(
                "A revoked token cannot be regenerated. Create a new one.", code="token_revoked"
            )
        now = timezone.now()
        policy = policy_for(token.organization)
        role = _role(token.owner, token.organization) or Membership.Role.MEMBER
        # Policy tightened since the token was made: regeneration never carries old rights over.
        _clean_scopes(token.scopes, policy=policy, role=role)
        _clean_ips(token.allowed_ips, policy=policy)
        if expires_at is DEFAULT_EXPIRY:
            expires_at = _same_lifetime(token, policy=policy, now=now)
        expires_at = _clean_expiry(expires_at, policy=policy, now=now)
        old_hashes = _hashes(token)
        # One previous secret at a time, as with Stripe's roll: older overlaps end now.
        TokenSecret.objects.filter(
            token=token, retired_at__isnull=False, valid_until__gt=now
        ).update(valid_until=now)
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
        previous_prefix = token.display_prefix
        token.display_prefix = new_secret.display_prefix
        token.expires_at = expires_at
        token.regenerated_at = now
        token.save(update_fields=["display_prefix", "expires_at", "regenerated_at"])
        self_rotation = actor.kind == TOKEN
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
        queue_notification(
            kind=Notification.Kind.TOKEN_REGENERATED,
            user=token.owner,
            context=_token_context(
                token,
                actor_label=actor.label,
                old_secret_valid_until=valid_until,
                ip=actor.ip,
                when=now,
            ),
            dedup_key=f"token_regenerated:{token.id}:{new_secret.id}",
        )
        _forget_on_commit(old_hashes)
    return IssuedToken(token=token, secret=secret)


# --- revoke -----------------------------------------------------------------------------------

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
        return RevokedBy.OWNER if actor.user.pk == token.owner_id else RevokedBy.ORG_ADMIN
    if actor.kind == ANONYMOUS:
        return RevokedBy.LEAK_REPORT
    return RevokedBy.SYSTEM


def revoke_token(
    token: PersonalAccessToken, *, actor: Actor, reason: str = "", kind: str | None = None
) -> PersonalAccessToken:
    """Revoke for good. Idempotent: a revoked token is returned unchanged, nothing written.

    Revoking never deletes: the token row keeps its audit trail and usage history.
    """
    with transaction.atomic():
        token = _locked(token)
        _require_manage(actor, token)
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
        record_audit_event(
            action=Action.TOKEN_REVOKED,
            actor=actor,
            token=token,
            details={"reason": reason, "revoked_by": kind},
        )
        # Always, even when the owner did it: a security notice is also the record that it
        # happened, and "you" is an answer to "who revoked it?" that a hijacked session changes.
        leaked = kind == RevokedBy.LEAK_REPORT
        queue_notification(
            kind=Notification.Kind.TOKEN_LEAKED if leaked else Notification.Kind.TOKEN_REVOKED,
            user=token.owner,
            context=_token_context(
                token,
                actor_label="" if leaked else actor.label,
                revoked_by=token.get_revoked_by_kind_display(),
                reason=reason,
                ip=actor.ip,
                when=now,
            ),
            dedup_key=f"token_revoked:{token.id}",
        )
        _forget_on_commit(_hashes(token))
    return token


def revoke_member_tokens(*, user: User, organization: Organization, actor: Actor) -> int:
    """A person left an organisation: every token they hold there stops working for good
    (expired ones too, so they cannot be regenerated). Returns how many were revoked."""
    tokens = PersonalAccessToken.objects.filter(
        owner=user, organization=organization, revoked_at__isnull=True
    )
    reason = f"{user.email} is no longer a member of {organization.name}"
    revoked = 0
    for token in tokens.iterator(chunk_size=200):
        revoke_token(token, actor=actor, reason=reason)
        revoked += 1
    return revoked


# --- settings that carry no power ------------------------------------------------------------


def update_token(
    token: PersonalAccessToken,
    *,
    actor: Actor,
    name: str = _UNCHANGED,
    description: str = _UNCHANGED,
    notify_on_new_ip: bool = _UNCHANGED,
) -> PersonalAccessToken:
    """Rename, describe, or change notices. A token's power (scopes, terminals, IPs) never
    changes after issue: a stolen secret can't quietly gain rights, and the audit log says
    exactly what each secret could do. For more power, issue a new token."""
    with transaction.atomic():
        token = _locked(token)
        _require_manage(actor, token)
        if token.revoked_at is not None:
            raise TokenNotActive("A revoked token cannot be changed.", code="token_revoked")
        changes: dict[str, tuple[Any, Any]] = {}
        if name is not _UNCHANGED:
            new = _clean_name(name, owner=token.owner, exclude_id=token.pk)
            if new != token.name:
                changes["name"] = (token.name, new)
        if description is not _UNCHANGED:
            new = _clean_description(description)
            if new != token.description:
                changes["description"] = (token.description, new)
        if notify_on_new_ip is not _UNCHANGED and bool(notify_on_new_ip) != token.notify_on_new_ip:
            changes["notify_on_new_ip"] = (token.notify_on_new_ip, bool(notify_on_new_ip))
        if not changes:
            return token
        for field, (_, new) in changes.items():
            setattr(token, field, new)
        token.save(update_fields=list(changes))
        record_audit_event(
            action=Action.TOKEN_UPDATED,
            actor=actor,
            token=token,
            details={field: {"from": old, "to": new} for field, (old, new) in changes.items()},
        )
        _forget_on_commit(_hashes(token))
    return token


# --- organisation policy ----------------------------------------------------------------------

_POLICY_FIELDS = (
    "max_lifetime_days",
    "allow_no_expiry",
    "member_scopes",
    "require_ip_allowlist",
    "default_rate_limit_per_hour",
    "revoke_unused_after_days",
    "auto_revoke_on_high_severity",
)


def _may_set_policy(actor: Actor, organization: Organization) -> bool:
    if actor.kind in (OPS, SYSTEM, CLI):
        return True
    return (
        actor.kind == USER
        and actor.user is not None
        and _role(actor.user, organization) == Membership.Role.ADMIN
    )


def _clean_policy_value(field: str, value: Any) -> Any:
    def whole(low: int, high: int, message: str) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidInput(message, code=f"invalid_{field}", field=field) from None
        if isinstance(value, bool) or not low <= number <= high:
            raise InvalidInput(message, code=f"invalid_{field}", field=field)
        return number

    if field == "max_lifetime_days":
        return whole(
            1, MAX_LIFETIME_DAYS, f"The longest lifetime is 1 to {MAX_LIFETIME_DAYS} days."
        )
    if field == "default_rate_limit_per_hour":
        return whole(1, MAX_RATE_LIMIT, f"The rate limit is 1 to {MAX_RATE_LIMIT:,} per hour.")
    if field == "revoke_unused_after_days":
        if value in (None, ""):
            return None
        return whole(
            1,
            MAX_LIFETIME_DAYS,
            f"Unused tokens are revoked after 1 to {MAX_LIFETIME_DAYS} days, or never.",
        )
    if field == "member_scopes":
        try:
            return scope_rules.normalize(list(value or ()))
        except ValueError as error:
            raise InvalidInput(str(error), code="invalid_scope", field=field) from None
    return bool(value)


def update_token_policy(organization: Organization, *, actor: Actor, **changes: Any) -> TokenPolicy:
    """Change an organisation's token policy (org admins, ops).

    It applies to what happens next: new tokens, regenerations and rate limits. Tightening never
    extends an existing token; tokens already issued keep their expiry and scopes until they are
    regenerated (which re-checks them) or revoked.
    """
    unknown = set(changes) - set(_POLICY_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown policy setting(s): {', '.join(sorted(unknown))}", code="invalid_policy"
        )
    if not _may_set_policy(actor, organization):
        raise PermissionDenied(
            "Only an organisation admin can change the token policy.", code="permission_denied"
        )
    cleaned = {field: _clean_policy_value(field, value) for field, value in changes.items()}
    with transaction.atomic():
        policy_for(organization)
        policy = TokenPolicy.objects.select_for_update().get(organization=organization)
        diff = {
            field: {"from": getattr(policy, field), "to": value}
            for field, value in cleaned.items()
            if getattr(policy, field) != value
        }
        if not diff:
            return policy
        for field in diff:
            setattr(policy, field, cleaned[field])
        policy.save(update_fields=[*diff, "updated_at"])
        record_audit_event(
            action=Action.POLICY_CHANGED, actor=actor, organization=organization, details=diff
        )
        if "default_rate_limit_per_hour" in diff:
            # Cached states carry the rate limit: drop those of the organisation's live tokens.
            hashes = list(
                TokenSecret.objects.filter(
                    token__organization=organization, token__revoked_at__isnull=True
                ).values_list("secret_hash", flat=True)
            )
            _forget_on_commit(hashes)
    return policy


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
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    actor_kind=actor.kind,
                    actor_label=actor.label,
                    action=Action.TOKEN_EXPIRED,
                    organization_id=token.organization_id,
                    token=token,
                    token_prefix=token.display_prefix,
                    created_at=now,
                    details={"expires_at": token.expires_at.isoformat()},
                )
                for token in batch
            )
            _forget_on_commit(
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
            PersonalAccessToken.objects.active()
            .for_org(policy.organization)
            .filter(
                Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)
            )
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


# --- exposure reports -------------------------------------------------------------------------


def report_leaked_credentials(
    candidates: Sequence[str], *, ip: str | None, user_agent: str = ""
) -> int:
    """A leaked-token report: revoke every live token among `candidates`, tell its owner.

    Returns how many were revoked, for logs and tests only: the API answers the same whatever
    it is, so a report can't be used to test whether a token is real.
    """
    hashes = {hash_secret(c) for c in candidates if token_format.is_well_formed(c)}
    if not hashes:
        return 0
    actor = Actor.anonymous(ip=ip, user_agent=user_agent)
    revoked = 0
    secrets = TokenSecret.objects.filter(secret_hash__in=hashes).select_related("token")
    for secret in secrets:
        token = secret.token
        with transaction.atomic():
            record_audit_event(
                action=Action.TOKEN_LEAK_REPORTED,
                actor=actor,
                token=token,
                token_prefix=secret.display_prefix,
                details={"secret": "current" if secret.retired_at is None else "rotated out"},
            )
            # A rotated-out secret that no longer works needs nothing more; the token is fine.
            if token.revoked_at is None and secret.accepted_at(timezone.now()):
                revoke_token(
                    token, actor=actor, kind=RevokedBy.LEAK_REPORT, reason="Reported as leaked"
                )
                revoked += 1
    return revoked


def record_token_in_url(candidate: str, *, ip: str | None, user_agent: str, path: str) -> bool:
    """A token arrived in a URL's query string: if it is real, audit it and tell the owner.

    Returns whether it was a real token. Throttled to one record a minute per token.
    """
    if not token_format.is_well_formed(candidate):
        return False
    secret_hash = hash_secret(candidate)
    if _throttled(f"qg:in-url:{secret_hash}"):
        return True
    secret = (
        TokenSecret.objects.filter(secret_hash=secret_hash)
        .select_related("token__organization")
        .first()
    )
    if secret is None:
        return False
    token = secret.token
    with transaction.atomic():
        record_audit_event(
            action=Action.TOKEN_IN_URL,
            actor=Actor.anonymous(ip=ip, user_agent=user_agent),
            token=token,
            token_prefix=secret.display_prefix,
            details={"path": path[:200]},
        )
        queue_notification(
            kind=Notification.Kind.TOKEN_IN_URL,
            user=token.owner,
            context=_token_context(token, ip=ip, when=timezone.now()),
            dedup_key=f"token_in_url:{token.id}:{timezone.now().date().isoformat()}",
        )
    return True


def record_auth_failure(
    *,
    reason: str,
    ip: str | None,
    user_agent: str,
    token_id: int | None = None,
    organization_id: int | None = None,
    token_prefix: str = "",
) -> None:
    """An API request was refused for its token. Throttled: one event a minute per token,
    reason and address, so a misconfigured client can't fill the audit log."""
    key = f"qg:authfail:{token_id or token_prefix}:{reason}:{ip}"
    if _throttled(key):
        return
    action = Action.OLD_SECRET_USED if reason == "rotated" else Action.AUTH_FAILED
    AuditEvent.objects.create(
        actor_kind=ANONYMOUS,
        actor_label="anonymous",
        action=action,
        organization_id=organization_id,
        token_id=token_id,
        token_prefix=token_prefix[:8],
        ip=ip,
        user_agent=user_agent[:300],
        details={"reason": reason},
    )
