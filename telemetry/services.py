"""Anomaly findings: recording them (audit, email, auto-revoke) and their life afterwards.

`report_findings` is the one place a finding becomes an Anomaly: deduplicated (one per rule,
token, subject and window), an audit event written, the owner and organisation admins emailed,
and — when the organisation's policy says so — a high-severity finding revokes the token.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from notifications.services import queue_notification
from telemetry.models import Anomaly
from telemetry.rules import Finding
from tokens import actors
from tokens import services as token_services
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy

logger = logging.getLogger(__name__)

SYSTEM_ACTOR_LABEL = "anomaly detection"


@dataclass
class ReportResult:
    created: list[Anomaly]
    updated: int
    revoked: int


def report_findings(findings: list[Finding]) -> ReportResult:
    """Turn findings into Anomaly rows; only new ones notify, audit and maybe revoke."""
    result = ReportResult(created=[], updated=0, revoked=0)
    if not findings:
        return result
    existing = _existing_anomalies(findings)
    tokens = PersonalAccessToken.objects.select_related("owner", "organization").in_bulk(
        {f.token_id for f in findings if f.token_id}
    )
    for finding in findings:
        known = existing.get(finding.key)
        if known is not None:
            result.updated += _touch(known, finding)
            continue
        anomaly, revoked = _create(finding, tokens.get(finding.token_id))
        if anomaly is None:
            result.updated += 1
            continue
        existing[finding.key] = anomaly
        result.created.append(anomaly)
        result.revoked += revoked
    return result


def _existing_anomalies(findings: list[Finding]) -> dict[tuple, Anomaly]:
    """Findings already recorded for the same window, in any state.

    A finding someone acknowledged or resolved is not raised again for the same window: the
    person has seen it. The open ones are protected by the partial unique constraint too.
    """
    anomalies = Anomaly.objects.filter(
        rule__in={f.rule for f in findings}, window__in={f.window for f in findings}
    ).order_by("id")
    found: dict[tuple, Anomaly] = {}
    for anomaly in anomalies:
        key = (anomaly.rule, anomaly.token_id or 0, anomaly.subject, anomaly.window)
        if key not in found or anomaly.state == Anomaly.State.OPEN:
            found[key] = anomaly
    return found


def _touch(anomaly: Anomaly, finding: Finding) -> int:
    if finding.last_seen <= anomaly.last_seen:
        return 0
    return Anomaly.objects.filter(pk=anomaly.pk, last_seen__lt=finding.last_seen).update(
        last_seen=finding.last_seen, evidence=anomaly.evidence | finding.evidence
    )


def _create(finding: Finding, token: PersonalAccessToken | None) -> tuple[Anomaly | None, bool]:
    """The new Anomaly and whether its token was revoked; (None, False) if it already existed."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                anomaly = Anomaly.objects.create(
                    rule=finding.rule,
                    severity=finding.severity,
                    token=token,
                    organization_id=finding.organization_id
                    or (token.organization_id if token else None),
                    subject=finding.subject,
                    window=finding.window,
                    evidence=finding.evidence,
                    first_seen=finding.first_seen,
                    last_seen=finding.last_seen,
                )
        except IntegrityError:
            return None, False  # another worker recorded it a moment ago
        token_services.record_audit_event(
            action=AuditEvent.Action.ANOMALY_FOUND,
            actor=actors.Actor.system(SYSTEM_ACTOR_LABEL),
            token=token,
            organization=anomaly.organization,
            details={
                "anomaly_id": anomaly.id,
                "rule": anomaly.rule,
                "severity": anomaly.severity,
                "subject": anomaly.subject,
                "window": anomaly.window,
            },
        )
        revoked = _maybe_revoke(anomaly, token)
        _notify(anomaly, token, revoked=revoked, owner=finding.notify_owner)
    return anomaly, revoked


def _maybe_revoke(anomaly: Anomaly, token: PersonalAccessToken | None) -> bool:
    if anomaly.severity != Anomaly.Severity.HIGH or token is None or not token.is_active:
        return False
    if token.kind == PersonalAccessToken.Kind.SANDBOX:
        # A sandbox token reaches only synthetic data: its findings are reported, never acted on
        # (a partner's load test from a CI runner abroad must not cut its sandbox off).
        return False
    policy = TokenPolicy.objects.filter(organization_id=token.organization_id).first()
    if policy is None or not policy.auto_revoke_on_high_severity:
        return False
    token_services.revoke_token(
        token,
        actor=actors.Actor.system(SYSTEM_ACTOR_LABEL),
        reason=f"Anomaly: {anomaly.get_rule_display()} ({anomaly.subject or anomaly.window})",
        kind=PersonalAccessToken.RevokedBy.ANOMALY,
    )
    return True


def _recipients(
    anomaly: Anomaly, token: PersonalAccessToken | None, *, owner: bool = True
) -> list[User]:
    """Owner and organisation admins; low-severity findings only the owner who opted in.
    `owner=False`: the owner has been told already, so only the other admins are."""
    if token is None:
        return []  # an IP guessing at prefixes: ops see it in the admin
    # The owner of a personal token; a service token's contact (its creator is not told).
    responsible = token.responsible
    if responsible is not None and not responsible.is_active:
        responsible = None
    if anomaly.severity == Anomaly.Severity.LOW:
        if owner and token.notify_on_new_ip and responsible is not None:
            return [responsible]
        return []
    admins = User.objects.admins_of(token.organization_id)
    people = {user.id: user for user in admins}
    if responsible is not None:
        if not owner:
            people.pop(responsible.pk, None)
        else:
            people.setdefault(responsible.pk, responsible)
    return list(people.values())


def _notify(
    anomaly: Anomaly, token: PersonalAccessToken | None, *, revoked: bool, owner: bool = True
) -> None:
    recipients = _recipients(anomaly, token, owner=owner)
    if not recipients:
        return
    context = notification_context(anomaly, token, revoked=revoked)
    for user in recipients:
        queue_notification(
            kind="anomaly",
            user=user,
            context=context | {"recipient_name": user.get_short_name()},
            dedup_key=f"anomaly:{anomaly.id}:{user.id}",
        )


def notification_context(
    anomaly: Anomaly, token: PersonalAccessToken | None, *, revoked: bool = False
) -> dict:
    """What the anomaly email may say. Plain values; never a secret."""
    return {
        "anomaly_id": anomaly.id,
        "rule": anomaly.rule,
        "rule_display": anomaly.get_rule_display(),
        "severity": anomaly.severity,
        "subject": anomaly.subject,
        "window": anomaly.window,
        "evidence": anomaly.evidence,
        "first_seen": anomaly.first_seen.isoformat(),
        "last_seen": anomaly.last_seen.isoformat(),
        "token_id": token.id if token else None,
        "token_name": token.name if token else "",
        "display_prefix": token.display_prefix if token else "",
        "token_kind": token.get_kind_display() if token else "",
        "organization": token.organization.name if token else "",
        "revoked": revoked,
        "site_url": settings.SITE_URL,
    }


# --- After a finding ---------------------------------------------------------------------------


class AnomalyStateError(ValueError):
    pass


_ALLOWED = {
    Anomaly.State.ACKNOWLEDGED: {Anomaly.State.OPEN},
    Anomaly.State.RESOLVED: {Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED},
}


def _change_state(anomaly: Anomaly, *, state: str, actor: actors.Actor, note: str) -> Anomaly:
    if anomaly.state == state:
        return anomaly
    with transaction.atomic():
        now = timezone.now()
        changed = Anomaly.objects.filter(pk=anomaly.pk, state__in=_ALLOWED[state]).update(
            state=state, state_changed_at=now
        )
        if not changed:
            anomaly.refresh_from_db()
            if anomaly.state == state:
                return anomaly
            raise AnomalyStateError(
                f"A {anomaly.get_state_display().lower()} finding cannot become {state}"
            )
        previous = anomaly.state
        anomaly.state, anomaly.state_changed_at = state, now
        token_services.record_audit_event(
            action=AuditEvent.Action.ANOMALY_UPDATED,
            actor=actor,
            token=anomaly.token,
            organization=anomaly.organization,
            details={
                "anomaly_id": anomaly.id,
                "rule": anomaly.rule,
                "from": previous,
                "to": state,
                "note": note[:500],
            },
        )
    return anomaly


def acknowledge_anomaly(anomaly: Anomaly, *, actor: actors.Actor, note: str = "") -> Anomaly:
    """Someone has seen it and is looking into it."""
    return _change_state(anomaly, state=Anomaly.State.ACKNOWLEDGED, actor=actor, note=note)


def resolve_anomaly(anomaly: Anomaly, *, actor: actors.Actor, note: str = "") -> Anomaly:
    """Done with it. The same rule, token and window will not be raised again."""
    return _change_state(anomaly, state=Anomaly.State.RESOLVED, actor=actor, note=note)


def open_anomalies_by_token(token_ids: list[int]) -> dict[int, list[Anomaly]]:
    """For the portal's token list: open findings per token, one query."""
    grouped: dict[int, list[Anomaly]] = defaultdict(list)
    for anomaly in Anomaly.objects.filter(
        Q(token_id__in=token_ids), state=Anomaly.State.OPEN
    ).order_by("-last_seen"):
        grouped[anomaly.token_id].append(anomaly)
    return dict(grouped)
