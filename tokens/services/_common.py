"""What the token services share: the issued secret, the hash, who may manage a token, the
locked row and the cache drop on commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import Membership
from notifications.services import queue_notifications
from tokens import cache as token_cache
from tokens import format as token_format
from tokens.actors import ANONYMOUS, CLI, OPS, SYSTEM, TOKEN, USER, Actor
from tokens.exceptions import PermissionDenied
from tokens.models import PersonalAccessToken, TokenSecret
from tokens.recipients import token_notices


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_EXPIRY"


# "The policy's longest lifetime" (issue) or "the same lifetime as before" (regenerate).
DEFAULT_EXPIRY: Any = _Default()
UNCHANGED: Any = object()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: PersonalAccessToken
    secret: str  # shown once to its owner; never logged, stored or emailed

    def __repr__(self) -> str:  # a stray print() or log line must not leak the secret
        return f"IssuedToken(token={self.token!r}, secret='{self.token.display_prefix}…')"


def hash_secret(secret: str) -> str:
    return token_format.keyed_hash(secret, settings.TOKEN_HASH_KEY)


def token_context(token: PersonalAccessToken, **extra: Any) -> dict[str, Any]:
    """What every email about a token says about it."""
    return {
        "token_name": token.name,
        "display_prefix": token.display_prefix,
        "token_kind": token.get_kind_display(),
        "organization": token.organization.name,
        "token_url": f"/tokens/{token.id}/",
        **extra,
    }


def notify_about_token(
    token: PersonalAccessToken, *, kind: str, context: dict[str, Any], dedup_key: str
) -> None:
    """Queue a notice about `token` (in the caller's transaction) for whoever hears about it:
    its owner, or a service token's contact (tokens.recipients)."""
    requests = list(token_notices(token, kind=kind, context=context, dedup_key=dedup_key))
    if requests:
        queue_notifications(requests)


# --- who may manage a token -------------------------------------------------------------------


def _may_manage(actor: Actor, token: PersonalAccessToken) -> bool:
    if actor.kind in (OPS, SYSTEM, CLI, ANONYMOUS):
        return True
    if actor.kind == TOKEN:
        return actor.token is not None and actor.token.pk == token.pk
    if actor.kind == USER and actor.user is not None:
        # A service token is the organisation's: its creator has no say once they are not
        # an admin any more.
        if actor.user.pk == token.owner_id and token.service_account_id is None:
            return True
        role = Membership.objects.role_of(user=actor.user, organization=token.organization)
        return role == Membership.Role.ADMIN
    return False


def require_manage(actor: Actor, token: PersonalAccessToken) -> None:
    if not _may_manage(actor, token):
        who = (
            "an admin of its organisation"
            if token.service_account_id
            else ("the token's owner or an admin of its organisation")
        )
        raise PermissionDenied(f"Only {who} can do that.", code="permission_denied")


# --- the row and its cached state -------------------------------------------------------------


def locked(token: PersonalAccessToken) -> PersonalAccessToken:
    return (
        PersonalAccessToken.objects.select_for_update(of=("self",))
        .select_related("organization", "owner", "service_account__contact")
        .get(pk=token.pk)
    )


def secret_hashes(token: PersonalAccessToken) -> list[str]:
    return list(TokenSecret.objects.filter(token=token).values_list("secret_hash", flat=True))


def forget_on_commit(hashes: list[str]) -> None:
    """Tombstone the cached states now and again once the change commits.

    Now: from this moment no request can cache the token's state (`remember` writes only where
    no key exists), so none caches the old state while we commit. On commit: the tombstones'
    TTL starts again after the change is visible. A rollback only costs a minute of uncached
    lookups.
    """
    token_cache.forget(hashes)
    transaction.on_commit(lambda: token_cache.forget(hashes))
