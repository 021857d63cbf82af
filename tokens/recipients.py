"""Who hears about a token: the person its emails (expiry, revocation, security) go to.

A personal token's owner. A service token's responsible contact; while its service account
has none (the contact left the organisation), every admin of the organisation, so a security
notice never goes nowhere. The creator of a service token is not told: it is not theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from accounts.models import User
from notifications.services import NotificationRequest
from tokens.models import PersonalAccessToken


def recipients_for(token: PersonalAccessToken) -> list[User]:
    responsible = token.responsible
    if token.service_account_id is None:
        return [responsible] if responsible is not None else []
    if responsible is not None and responsible.is_active:
        return [responsible]
    return list(User.objects.admins_of(token.organization_id))


def token_notices(
    token: PersonalAccessToken, *, kind: str, context: dict[str, Any], dedup_key: str
) -> Iterator[NotificationRequest]:
    """One request per recipient. A single recipient keeps `dedup_key` as it is (the key a
    personal token's notice always had); a fan-out to admins gets one key each."""
    people = recipients_for(token)
    extra = {"service_account": token.service_account.name} if token.is_service_token else {}
    for user in people:
        key = dedup_key if len(people) == 1 else f"{dedup_key}:{user.pk}"
        yield NotificationRequest(kind=kind, user=user, context=context | extra, dedup_key=key)
