"""Findings from the audit log: events about an exposed secret become high-severity findings."""

import pytest
from django.utils import timezone

from telemetry import rules
from telemetry.models import Anomaly
from tokens.models import AuditEvent

Rule = Anomaly.Rule


def audit(action, token):
    return AuditEvent.objects.create(
        action=action, actor_kind=AuditEvent.ActorKind.ANONYMOUS, token=token
    )


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (AuditEvent.Action.TOKEN_IN_URL, Rule.TOKEN_IN_URL),
        (AuditEvent.Action.OLD_SECRET_USED, Rule.OLD_SECRET_REUSED),
    ],
)
def test_audit_events_about_exposed_secrets_become_high_findings(token, action, rule):
    event = audit(action, token)

    [finding] = rules.audit_findings(event.id - 1, event.id, now=timezone.now())

    assert (finding.rule, finding.token_id, finding.severity) == (
        rule,
        token.id,
        Anomaly.Severity.HIGH,
    )


def test_other_audit_events_are_quiet(token):
    event = audit(AuditEvent.Action.TOKEN_CREATED, token)
    assert rules.audit_findings(event.id - 1, event.id, now=timezone.now()) == []
