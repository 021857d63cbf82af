"""An organisation's token policy: reading it, and changing it (org admins, ops)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organization
from tokens import scopes as scope_rules
from tokens.actors import Actor
from tokens.exceptions import InvalidInput, PermissionDenied
from tokens.models import AuditEvent, TokenPolicy, TokenSecret
from tokens.services._common import forget_on_commit
from tokens.services.audit import record_audit_event
from tokens.services.validation import MAX_LIFETIME_DAYS, MAX_RATE_LIMIT

_POLICY_FIELDS = (
    "max_lifetime_days",
    "allow_no_expiry",
    "member_scopes",
    "require_ip_allowlist",
    "default_rate_limit_per_hour",
    "revoke_unused_after_days",
    "auto_revoke_on_high_severity",
    "require_approval",
)


def policy_for(organization: Organization) -> TokenPolicy:
    policy, _ = TokenPolicy.objects.get_or_create(organization=organization)
    return policy


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
    if field == "require_approval":
        if value not in TokenPolicy.Approval.values:
            raise InvalidInput(
                "Approval is off, for tokens with a write scope, or for every member's token.",
                code="invalid_require_approval",
                field=field,
            )
        return str(value)
    return bool(value)


def _cleaned_changes(organization: Organization, actor: Actor, changes: dict) -> dict[str, Any]:
    unknown = set(changes) - set(_POLICY_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown policy setting(s): {', '.join(sorted(unknown))}", code="invalid_policy"
        )
    if not actor.administers(organization):
        raise PermissionDenied(
            "Only an organisation admin can change the token policy.", code="permission_denied"
        )
    return {field: _clean_policy_value(field, value) for field, value in changes.items()}


def update_token_policy(organization: Organization, *, actor: Actor, **changes: Any) -> TokenPolicy:
    """Change an organisation's token policy (org admins, ops).

    It applies to what happens next: new tokens, regenerations and rate limits. Tightening never
    extends an existing token; tokens already issued keep their expiry and scopes until they are
    regenerated (which re-checks them) or revoked.
    """
    cleaned = _cleaned_changes(organization, actor, changes)
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
            action=AuditEvent.Action.POLICY_CHANGED,
            actor=actor,
            organization=organization,
            details=diff,
        )
        if "default_rate_limit_per_hour" in diff:
            # Cached states carry the rate limit: drop those of the organisation's live tokens.
            hashes = list(
                TokenSecret.objects.filter(
                    token__organization=organization, token__revoked_at__isnull=True
                ).values_list("secret_hash", flat=True)
            )
            forget_on_commit(hashes)
    return policy
