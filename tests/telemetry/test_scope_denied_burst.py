"""The scope-denied-burst rule: many scope denials for one token within the hour."""

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, log, usage

Rule = Anomaly.Rule


def test_many_scope_denials_for_one_token_are_a_burst(token, now, thresholds):
    thresholds(SCOPE_DENIED_PER_TOKEN_PER_HOUR=5)
    batch = batch_over(log(*[usage(token, at=now, status=403) for _ in range(5)]))

    [finding] = rules.scope_denied_burst(batch)

    assert (finding.rule, finding.token_id, finding.evidence["count"]) == (
        Rule.SCOPE_DENIED_BURST,
        token.id,
        5,
    )


def test_a_few_scope_denials_are_quiet(token, now, thresholds):
    thresholds(SCOPE_DENIED_PER_TOKEN_PER_HOUR=5)
    batch = batch_over(log(*[usage(token, at=now, status=403) for _ in range(4)]))
    assert rules.scope_denied_burst(batch) == []
