"""The partner-API entitlement of an organisation (issue 15): set by ops, never by the org.

Changing it writes an audit event and drops the cached state of every token of the
organisation on commit, exactly as a revocation does, so the next request on any node sees
the new level. Nothing is deleted when the level drops: tokens work again when it is restored.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import Organization
from core.errors import ServiceError
from tokens.actors import Actor
from tokens.models import AuditEvent, TokenSecret
from tokens.services._common import forget_on_commit
from tokens.services.audit import record_audit_event


class InvalidApiAccess(ServiceError):
    """An unknown level, or a change without a reason."""


def set_api_access(organization: Organization, *, level: str, actor: Actor, reason: str) -> bool:
    """Set `organization`'s API access to `level`; False when it already was."""
    if level not in Organization.ApiAccess.values:
        raise InvalidApiAccess(f"Unknown API access level {level!r}.", code="invalid_level")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidApiAccess("Say why the API access changes.", code="reason_required")
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        before = org.api_access
        if before == level:
            return False
        Organization.objects.filter(pk=org.pk).update(api_access=level)
        record_audit_event(
            action=AuditEvent.Action.API_ACCESS_CHANGED,
            actor=actor,
            organization=org,
            details={"from": before, "to": level, "reason": reason[:500]},
        )
        hashes = list(
            TokenSecret.objects.filter(token__organization=org).values_list(
                "secret_hash", flat=True
            )
        )
        forget_on_commit(hashes)
    organization.api_access = level
    return True
