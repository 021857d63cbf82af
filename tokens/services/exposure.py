"""A secret seen where it should not be: reported as leaked, sent in a URL, or refused.

Anyone can trigger these (a scanner, a misconfigured client, a guesser), so each answers the
same whether the token is real or not, and the repeated ones are throttled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from tokens import format as token_format
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken, TokenSecret
from tokens.services._common import hash_secret, notify_about_token, token_context
from tokens.services.audit import record_audit_event, throttled
from tokens.services.revoke import revoke_token

Action = AuditEvent.Action


@dataclass(frozen=True, slots=True)
class LeakedCredential:
    """A string reported as leaked, with what the report says about it.

    `reason` becomes the revocation's reason ("Reported as leaked" when empty); `where` (for
    instance {"found_at": url, "source": "commit"}) goes into the audit event and the owner's
    email. A plain string in a report is a LeakedCredential with neither.
    """

    secret: str
    reason: str = ""
    where: Mapping[str, str] = field(default_factory=dict)


def report_leaked_credentials(
    candidates: Sequence[str | LeakedCredential],
    *,
    ip: str | None,
    user_agent: str = "",
    reporter: str = "",
) -> int:
    """A leaked-token report: revoke every live token among `candidates`, tell its owner.

    The one place a leak is handled, whoever reports it: the public form
    (POST /credentials/revoke) and a secret scanner's signed alert (`reporter`, e.g. "GitHub
    secret scanning", is the audit actor's label). Returns how many were revoked, for logs and
    tests only: the form answers the same whatever it is, so a report can't be used to test
    whether a token is real.
    """
    leaks: dict[str, LeakedCredential] = {}
    for candidate in candidates:
        leak = candidate if isinstance(candidate, LeakedCredential) else LeakedCredential(candidate)
        if token_format.is_well_formed(leak.secret):
            leaks.setdefault(hash_secret(leak.secret), leak)  # the first report of a secret
    if not leaks:
        return 0
    actor = Actor.anonymous(ip=ip, user_agent=user_agent)
    if reporter:
        actor = replace(actor, label=reporter[:200])
    revoked = 0
    now = timezone.now()
    secrets = TokenSecret.objects.filter(secret_hash__in=leaks).select_related("token")
    for secret in secrets:
        leak = leaks[secret.secret_hash]
        revoked += _report_leak(secret, leak, actor=actor, reporter=reporter, now=now)
    return revoked


def _report_leak(
    secret: TokenSecret, leak: LeakedCredential, *, actor: Actor, reporter: str, now: datetime
) -> bool:
    """Audit one leaked secret of ours; revoke its token if the secret still opens it."""
    token = secret.token
    where = dict(leak.where)
    with transaction.atomic():
        record_audit_event(
            action=Action.TOKEN_LEAK_REPORTED,
            actor=actor,
            token=token,
            token_prefix=secret.display_prefix,
            details={"secret": "current" if secret.retired_at is None else "rotated out", **where},
        )
        if not secret.leak_needs_revoking(now):
            return False
        revoke_token(
            token,
            actor=actor,
            kind=PersonalAccessToken.RevokedBy.LEAK_REPORT,
            reason=leak.reason or "Reported as leaked",
            notice={"reporter": reporter, **where},
        )
    return True


def record_token_in_url(candidate: str, *, ip: str | None, user_agent: str, path: str) -> bool:
    """A token arrived in a URL's query string: if it is real, audit it and tell the owner.

    Returns whether it was a real token. Throttled to one record a minute per token.
    """
    if not token_format.is_well_formed(candidate):
        return False
    secret_hash = hash_secret(candidate)
    if throttled(f"qg:in-url:{secret_hash}"):
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
        notify_about_token(
            token,
            kind=Notification.Kind.TOKEN_IN_URL,
            context=token_context(token, ip=ip, when=timezone.now()),
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
    if throttled(key):
        return
    # Ids, not rows: the request path never loads the token to say it was refused.
    record_audit_event(
        action=Action.OLD_SECRET_USED if reason == "rotated" else Action.AUTH_FAILED,
        actor=Actor.anonymous(ip=ip, user_agent=user_agent),
        token_id=token_id,
        organization_id=organization_id,
        token_prefix=token_prefix,
        details={"reason": reason},
    )
