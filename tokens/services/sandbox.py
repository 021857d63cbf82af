"""Resetting an organisation's sandbox fleet: the fixtures come back, and the audit log says who."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organization
from fleet import sandbox as sandbox_fleet
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken
from tokens.services.audit import record_audit_event


def reset_sandbox(
    organization: Organization, *, actor: Actor, token: PersonalAccessToken | None = None
) -> dict[str, Any]:
    """Delete the organisation's sandbox rows and regenerate the fixtures, with an audit event,
    in one transaction. Production rows are never touched. Returns what was made, counted."""
    with transaction.atomic():
        summary = sandbox_fleet.reset_sandbox_fleet(organization)
        record_audit_event(
            action=AuditEvent.Action.SANDBOX_RESET,
            actor=actor,
            token=token,
            organization=organization,
            details={key: value for key, value in summary.items() if key != "anchored_at"},
        )
    return summary
