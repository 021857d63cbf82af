"""A live token's settings that carry no power: its name, description and notices."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tokens.actors import Actor
from tokens.exceptions import TokenNotActive
from tokens.models import AuditEvent, PersonalAccessToken
from tokens.services._common import (
    UNCHANGED,
    forget_on_commit,
    locked,
    require_manage,
    secret_hashes,
)
from tokens.services.audit import record_audit_event
from tokens.services.validation import clean_description, clean_name


def update_token(
    token: PersonalAccessToken,
    *,
    actor: Actor,
    name: str = UNCHANGED,
    description: str = UNCHANGED,
    notify_on_new_ip: bool = UNCHANGED,
) -> PersonalAccessToken:
    """Rename, describe, or change notices. A token's power (scopes, terminals, IPs) never
    changes after issue: a stolen secret can't quietly gain rights, and the audit log says
    exactly what each secret could do. For more power, issue a new token."""
    with transaction.atomic():
        token = locked(token)
        require_manage(actor, token)
        if token.revoked_at is not None:
            raise TokenNotActive("A revoked token cannot be changed.", code="token_revoked")
        changes = _changes(
            token, name=name, description=description, notify_on_new_ip=notify_on_new_ip
        )
        if not changes:
            return token
        for field, (_, new) in changes.items():
            setattr(token, field, new)
        token.save(update_fields=list(changes))
        record_audit_event(
            action=AuditEvent.Action.TOKEN_UPDATED,
            actor=actor,
            token=token,
            details={field: {"from": old, "to": new} for field, (old, new) in changes.items()},
        )
        forget_on_commit(secret_hashes(token))
    return token


def _changes(
    token: PersonalAccessToken, *, name: str, description: str, notify_on_new_ip: bool
) -> dict[str, tuple[Any, Any]]:
    """field -> (old, new) for each given value that differs from the token's."""
    changes: dict[str, tuple[Any, Any]] = {}
    if name is not UNCHANGED:
        new = clean_name(
            name,
            owner=token.owner,
            exclude_id=token.pk,
            service_account=token.service_account,
        )
        if new != token.name:
            changes["name"] = (token.name, new)
    if description is not UNCHANGED:
        new = clean_description(description)
        if new != token.description:
            changes["description"] = (token.description, new)
    if notify_on_new_ip is not UNCHANGED and bool(notify_on_new_ip) != token.notify_on_new_ip:
        changes["notify_on_new_ip"] = (token.notify_on_new_ip, bool(notify_on_new_ip))
    return changes
