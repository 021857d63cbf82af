"""The audit log's one writer: every AuditEvent row is built by `audit_event`, whether it is
saved alone (`record_audit_event`), in bulk (expire_due_tokens) or for a refused request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.core.cache import cache as django_cache

from accounts.models import Organization
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken

_THROTTLE_SECONDS = 60

# Told about every saved event, in the writer's transaction (webhooks writes its outbox rows
# there). Registered by higher apps in AppConfig.ready(), so tokens imports none of them.
_listeners: list[Callable[[Sequence[AuditEvent]], object]] = []


def on_audit_events(callback: Callable[[Sequence[AuditEvent]], object]) -> None:
    if callback not in _listeners:
        _listeners.append(callback)


def announce_audit_events(events: Sequence[AuditEvent]) -> None:
    """Call after saving events (record_audit_event does; so must a bulk insert)."""
    for callback in _listeners:
        callback(events)


def audit_event(
    *,
    action: str,
    actor: Actor,
    token: PersonalAccessToken | None = None,
    token_id: int | None = None,
    organization: Organization | None = None,
    organization_id: int | None = None,
    details: dict[str, Any] | None = None,
    token_prefix: str = "",
    created_at: datetime | None = None,
) -> AuditEvent:
    """One event, unsaved. `token_id`/`organization_id` stand in for rows not loaded (a
    refused request knows only ids); the organisation defaults to the token's."""
    if organization is not None:
        organization_id = organization.id
    elif organization_id is None and token is not None:
        organization_id = token.organization_id
    about = {"token": token} if token is not None else {"token_id": token_id}
    when = {"created_at": created_at} if created_at is not None else {}
    return AuditEvent(
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_token=actor.token,
        actor_label=actor.label[:200],
        action=action,
        organization_id=organization_id,
        token_prefix=(token_prefix or (token.display_prefix if token else ""))[:8],
        ip=actor.ip,
        user_agent=actor.user_agent[:300],
        details=details or {},
        **about,
        **when,
    )


def record_audit_event(
    *,
    action: str,
    actor: Actor,
    token: PersonalAccessToken | None = None,
    organization: Organization | None = None,
    details: dict[str, Any] | None = None,
    token_prefix: str = "",
    token_id: int | None = None,
    organization_id: int | None = None,
) -> AuditEvent:
    """Append one event to the audit log (in the caller's transaction)."""
    event = audit_event(
        action=action,
        actor=actor,
        token=token,
        token_id=token_id,
        organization=organization,
        organization_id=organization_id,
        details=details,
        token_prefix=token_prefix,
    )
    event.save(force_insert=True)
    announce_audit_events([event])
    return event


def throttled(key: str) -> bool:
    """True when `key` was seen in the last minute (so the caller skips a repeated write)."""
    try:
        return not django_cache.add(key, 1, _THROTTLE_SECONDS)
    except Exception:  # a cache that is down must not turn a 401 into a 500
        return False
