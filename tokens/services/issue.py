"""Issuing a token: who may, what its settings may be, and the rows, event and email it makes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from fleet.models import Terminal
from notifications.models import Notification
from tokens import format as token_format
from tokens.actors import TOKEN, USER, Actor
from tokens.exceptions import InvalidInput, PermissionDenied, PolicyViolation
from tokens.models import AuditEvent, PersonalAccessToken, ServiceAccount, TokenSecret
from tokens.services._common import (
    DEFAULT_EXPIRY,
    IssuedToken,
    hash_secret,
    notify_about_token,
    token_context,
)
from tokens.services.approval import approval_for
from tokens.services.audit import record_audit_event
from tokens.services.policy import policy_for
from tokens.services.validation import (
    clean_description,
    clean_expiry,
    clean_ips,
    clean_name,
    clean_rate_limit,
    clean_scopes,
    clean_terminals,
)


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
    justification: str = "",
    kind: str = PersonalAccessToken.Kind.PRODUCTION,
    service_account: ServiceAccount | None = None,
) -> IssuedToken:
    """A new token for `owner` in `organization`. The secret exists only in the return value.

    With `service_account` it is a service token (tokens.services.service_accounts issues
    those): `owner` is the admin creating it, who needs no approval."""
    role = _issuer_role(owner=owner, organization=organization, actor=actor)
    kind = _allowed_kind(organization, kind, actor=actor)
    now = timezone.now()
    policy = policy_for(organization)
    if expires_at is DEFAULT_EXPIRY:
        expires_at = now + policy.max_lifetime
    fields = {
        "owner": owner,
        "organization": organization,
        "name": clean_name(name, owner=owner, service_account=service_account),
        "service_account": service_account,
        "description": clean_description(description),
        "scopes": clean_scopes(scopes, policy=policy, role=role),
        "allowed_ips": clean_ips(allowed_ips, policy=policy),
        "expires_at": clean_expiry(expires_at, policy=policy, now=now),
        "rate_limit_per_hour": clean_rate_limit(rate_limit_per_hour, policy=policy, role=role),
        "terminal_access": terminal_access,
        "notify_on_new_ip": bool(notify_on_new_ip),
        "kind": kind,
    }
    _check_plan_ceiling(organization, kind, fields["rate_limit_per_hour"])
    fields["approval"], fields["justification"] = approval_for(
        policy=policy, role=role, scopes=fields["scopes"], justification=justification
    )
    selected = clean_terminals(terminal_access, terminals, organization=organization)
    secret = token_format.generate(kind)
    try:
        with transaction.atomic():
            _check_token_count(organization)
            token = _create_token(fields, secret=secret, actor=actor, now=now, terminals=selected)
            _announce_new_token(token, actor=actor, terminals=selected, now=now)
    except IntegrityError:
        # Two requests with the same name at the same moment: the partial unique index decided.
        whose = f"{service_account.name} already has" if service_account else "You already have"
        raise InvalidInput(
            f"{whose} a token called “{fields['name']}”.", code="name_taken", field="name"
        ) from None
    return IssuedToken(token=token, secret=secret)


def _issuer_role(*, owner: User, organization: Organization, actor: Actor) -> str:
    """The owner's role in the organisation, once it is clear the actor may issue for them."""
    if actor.kind in (USER, TOKEN) and (actor.user is None or actor.user.pk != owner.pk):
        raise PermissionDenied(
            "People create tokens for themselves only.", code="permission_denied"
        )
    role = Membership.objects.role_of(user=owner, organization=organization)
    if role is None:
        raise PermissionDenied(
            f"{owner.email} is not a member of {organization.name}.", code="not_a_member"
        )
    if organization.two_factor_required_at is not None and not owner.two_factor_enabled:
        raise PermissionDenied(
            f"{organization.name} requires two-factor authentication: set it up first.",
            code="two_factor_required",
        )
    return role


def _allowed_kind(organization: Organization, kind: str, *, actor: Actor) -> str:
    """The kind, once the organisation's API access covers it (issue 15). People (the portal,
    a token) are held to the level; ops and the command line may prepare a token the level
    does not cover yet: the API refuses it with 403 api_access_not_enabled until it does."""
    try:
        kind = PersonalAccessToken.Kind(kind)
    except ValueError:
        raise InvalidInput(
            "A token is a production (qgp_) or a sandbox (qgs_) token.",
            code="invalid_kind",
            field="kind",
        ) from None
    if organization.api_allows(kind) or actor.kind not in (USER, TOKEN):
        return kind
    if organization.api_access == Organization.ApiAccess.NONE:
        message = (
            f"The partner API is not enabled for {organization.name}, so it can have no tokens "
            "yet. Ask Quaygate to enable the sandbox for your organisation."
        )
    else:
        message = (
            f"{organization.name} has sandbox access only: create a sandbox token (qgs_). An "
            "organisation admin can request production access on the organisation's API "
            "access page."
        )
    raise PolicyViolation(message, code="api_access_not_enabled", field="kind")


def _check_plan_ceiling(organization: Organization, kind: str, rate_limit: int | None) -> None:
    ceiling = organization.rate_ceiling(kind)
    if rate_limit is not None and rate_limit > ceiling:
        raise PolicyViolation(
            f"Your organisation's plan allows at most {ceiling:,} requests per hour for a "
            f"{kind} token.",
            code="rate_limit_above_plan",
            field="rate_limit_per_hour",
        )


def _check_token_count(organization: Organization) -> None:
    """The plan's most live tokens. The organisation row is locked so two requests at the same
    moment cannot both take the last place."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    most = org.max_active_tokens
    live = PersonalAccessToken.objects.active().filter(organization=org).count()
    if live >= most:
        raise PolicyViolation(
            f"{org.name} has {live:,} live tokens, the most its plan allows ({most:,}). Revoke "
            "a token that is no longer needed, or ask Quaygate to raise the limit.",
            code="token_limit_reached",
        )


def _create_token(
    fields: dict[str, Any],
    *,
    secret: str,
    actor: Actor,
    now: datetime,
    terminals: Sequence[Terminal],
) -> PersonalAccessToken:
    """The token row (with its cleaned `fields`), its terminals and its secret's hash."""
    token = PersonalAccessToken.objects.create(
        display_prefix=token_format.display_prefix(secret),
        created_at=now,
        created_from_ip=actor.ip,
        created_user_agent=actor.user_agent[:300],
        **fields,
    )
    if terminals:
        token.terminals.set(terminals)
    TokenSecret.objects.create(
        token=token,
        secret_hash=hash_secret(secret),
        display_prefix=token.display_prefix,
        created_at=now,
    )
    return token


def _announce_new_token(
    token: PersonalAccessToken, *, actor: Actor, terminals: Sequence[Terminal], now: datetime
) -> None:
    """The "created" audit event and the owner's email, in the issuing transaction."""
    record_audit_event(
        action=AuditEvent.Action.TOKEN_CREATED,
        actor=actor,
        token=token,
        details=_settings_details(token, terminals),
    )
    notify_about_token(
        token,
        kind=Notification.Kind.TOKEN_CREATED,
        context=token_context(token, actor_label=actor.label, ip=actor.ip, when=now),
        dedup_key=f"token_created:{token.id}",
    )


def _settings_details(token: PersonalAccessToken, terminals: Sequence[Terminal]) -> dict:
    account = token.service_account
    owner = {"service_account": account.name, "service_account_id": account.pk} if account else {}
    return {
        **owner,
        "name": token.name,
        "scopes": list(token.scopes),
        "terminal_access": token.terminal_access,
        "terminals": sorted(t.code for t in terminals),
        "allowed_ips": list(token.allowed_ips),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "rate_limit_per_hour": token.rate_limit_per_hour,
    }
