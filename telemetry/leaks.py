"""Secret-scanning alerts: strings a scanner (GitHub) found in public and sent us, signed.

`record_scanner_alerts` is the one place such an alert is handled. Every alert is recorded once
(a LeakAlert row; the secret only as its keyed hash). Every live token of ours among them is
revoked through `tokens.services.report_leaked_credentials`, the leak report's own steps, with
where it was found in the reason, the audit event and the owner's email; and each token it
revoked becomes a finding (Anomaly "leaked_in_public") that the organisation's admins are told
about. The same alert again only moves its `last_seen`: nothing is revoked, audited or emailed
twice.

The work for a batch of a thousand alerts is bounded: one query for every candidate's secret,
one insert that claims the new alerts, one read of which this delivery claimed; then the work
for each token of ours, which a batch rarely holds more than a few of.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from telemetry.models import Anomaly, LeakAlert
from telemetry.rules import Finding, day
from telemetry.services import report_findings
from tokens import format as token_format
from tokens import services as token_services
from tokens.models import TokenSecret

GITHUB = "github"
SCANNER_NAMES = {GITHUB: "GitHub secret scanning"}
# LeakAlert.url's length: a longer URL is kept cut (the scanner's copy is the whole one).
MAX_URL_CHARS = 2048


@dataclass(frozen=True, slots=True)
class ScannerAlert:
    """One match, as the scanner sends it: GitHub's {"token", "type", "url", "source"}."""

    token: str
    token_type: str = ""
    url: str = ""
    source: str = ""

    def __repr__(self) -> str:  # a stray log line must not carry the secret
        return f"ScannerAlert(type={self.token_type!r}, url={self.url!r}, source={self.source!r})"


@dataclass(frozen=True, slots=True)
class AlertVerdict:
    """What the scanner gets back for one alert: never the token, only its SHA-256."""

    token_sha256: str
    token_type: str
    true_positive: bool  # one of our tokens, live or not


@dataclass(frozen=True, slots=True)
class _Seen:
    alert: ScannerAlert
    secret_hash: str  # keyed, as TokenSecret.secret_hash
    alert_key: str
    well_formed: bool


def record_scanner_alerts(
    alerts: Sequence[ScannerAlert], *, scanner: str, ip: str | None, user_agent: str = ""
) -> list[AlertVerdict]:
    """Handle one delivery of alerts (already verified as the scanner's); a verdict per alert,
    in order. Idempotent: a replayed delivery finds its alerts claimed and acts on none."""
    now = timezone.now()
    seen = [_seen(alert, scanner=scanner) for alert in alerts]
    ours = _our_secrets({s.secret_hash for s in seen if s.well_formed})
    with transaction.atomic():
        claimed = _claim(seen, ours, scanner=scanner, now=now)
        live = [s for s in claimed if _outcome(s, ours, now) == LeakAlert.Outcome.REVOKED]
        _revoke(claimed, ours, scanner=scanner, ip=ip, user_agent=user_agent)
        _raise_findings(live, ours, scanner=scanner, now=now)
    return [
        AlertVerdict(
            token_sha256=hashlib.sha256(s.alert.token.encode()).hexdigest(),
            token_type=s.alert.token_type,
            true_positive=s.secret_hash in ours,
        )
        for s in seen
    ]


def leak_reason(*, scanner: str, url: str) -> str:
    """The revocation's reason: "leaked: found by GitHub secret scanning at <url>"."""
    reason = f"leaked: found by {SCANNER_NAMES.get(scanner, scanner)}"
    return f"{reason} at {url}" if url else reason


def _keyed_hash(text: str) -> str:
    """TokenSecret's keyed hash for ASCII text (every token of ours is), and the same HMAC over
    UTF-8 for anything else a scanner sends, so that too is kept only as a hash."""
    if text.isascii():
        return token_services.hash_secret(text)
    key = settings.TOKEN_HASH_KEY
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.digest(key_bytes, text.encode(), "sha256").hex()


def _seen(alert: ScannerAlert, *, scanner: str) -> _Seen:
    secret_hash = _keyed_hash(alert.token)
    identity = f"{scanner}\n{secret_hash}\n{alert.url[:MAX_URL_CHARS]}".encode()
    return _Seen(
        alert=alert,
        secret_hash=secret_hash,
        alert_key=hashlib.sha256(identity).hexdigest(),
        well_formed=token_format.is_well_formed(alert.token),
    )


def _our_secrets(hashes: set[str]) -> dict[str, TokenSecret]:
    """Every candidate's secret of ours, current or rotated out, in one query."""
    if not hashes:
        return {}
    secrets = TokenSecret.objects.filter(secret_hash__in=hashes).select_related("token")
    return {secret.secret_hash: secret for secret in secrets}


def _outcome(seen: _Seen, ours: dict[str, TokenSecret], now: datetime) -> str:
    secret = ours.get(seen.secret_hash)
    if secret is None:
        return LeakAlert.Outcome.NOT_OURS
    if secret.leak_needs_revoking(now):
        return LeakAlert.Outcome.REVOKED
    return LeakAlert.Outcome.ALREADY_DEAD


def _claim(
    seen: list[_Seen], ours: dict[str, TokenSecret], *, scanner: str, now: datetime
) -> list[_Seen]:
    """Insert a row per alert not recorded before (ON CONFLICT DO NOTHING) and return the ones
    this delivery inserted: the ones it acts on. A concurrent delivery of the same alert waits
    on the unique key and finds it taken. The others only move their `last_seen`."""
    delivery = uuid.uuid4()
    unique: dict[str, _Seen] = {}
    for item in seen:
        unique.setdefault(item.alert_key, item)
    LeakAlert.objects.bulk_create(
        [_row(item, ours, scanner=scanner, delivery=delivery, now=now) for item in unique.values()],
        ignore_conflicts=True,  # one INSERT for a whole delivery (at most 1,000 rows)
    )
    mine = set(
        LeakAlert.objects.filter(alert_key__in=list(unique), delivery=delivery).values_list(
            "alert_key", flat=True
        )
    )
    again = [key for key in unique if key not in mine]
    if again:
        LeakAlert.objects.filter(alert_key__in=again).update(
            last_seen=now, times_seen=F("times_seen") + 1
        )
    return [item for key, item in unique.items() if key in mine]


def _row(
    item: _Seen, ours: dict[str, TokenSecret], *, scanner: str, delivery: uuid.UUID, now: datetime
) -> LeakAlert:
    secret = ours.get(item.secret_hash)
    return LeakAlert(
        scanner=scanner,
        alert_key=item.alert_key,
        secret_hash=item.secret_hash,
        token_id=secret.token_id if secret else None,
        organization_id=secret.token.organization_id if secret else None,
        token_type=item.alert.token_type[:100],
        url=item.alert.url[:MAX_URL_CHARS],
        source=item.alert.source[:64],
        outcome=_outcome(item, ours, now),
        delivery=delivery,
        first_seen=now,
        last_seen=now,
    )


def _revoke(
    claimed: list[_Seen],
    ours: dict[str, TokenSecret],
    *,
    scanner: str,
    ip: str | None,
    user_agent: str,
) -> int:
    """The leak report's steps for every claimed alert of ours: live tokens revoked and their
    owners told, every one (dead ones too) in the audit log."""
    leaks = [
        token_services.LeakedCredential(
            secret=item.alert.token,
            reason=leak_reason(scanner=scanner, url=item.alert.url),
            where=_where(item.alert),
        )
        for item in claimed
        if item.secret_hash in ours
    ]
    if not leaks:
        return 0
    return token_services.report_leaked_credentials(
        leaks, ip=ip, user_agent=user_agent, reporter=SCANNER_NAMES.get(scanner, scanner)
    )


def _where(alert: ScannerAlert) -> dict[str, str]:
    where = {"found_at": alert.url[:MAX_URL_CHARS], "source": alert.source}
    return {name: value for name, value in where.items() if value}


def _raise_findings(
    live: list[_Seen], ours: dict[str, TokenSecret], *, scanner: str, now: datetime
) -> None:
    """A finding per token this delivery revoked (the first place it was found), for the
    organisation's admins; its owner has the revocation email already."""
    findings: dict[int, Finding] = {}
    for item in live:
        token = ours[item.secret_hash].token
        if token.id in findings:
            continue
        evidence = {"scanner": SCANNER_NAMES.get(scanner, scanner), **_where(item.alert)}
        if item.alert.token_type:
            evidence["secret_type"] = item.alert.token_type
        findings[token.id] = Finding(
            rule=Anomaly.Rule.LEAKED_IN_PUBLIC,
            severity=Anomaly.Severity.HIGH,
            token_id=token.id,
            organization_id=token.organization_id,
            subject="",
            window=day(now),
            first_seen=now,
            last_seen=now,
            evidence=evidence,
            notify_owner=False,
        )
    report_findings(list(findings.values()))
