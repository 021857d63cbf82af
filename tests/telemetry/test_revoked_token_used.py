"""The revoked-token-used rule: a revoked or expired token still presented."""

from datetime import timedelta

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, failures, log, make_token, usage

Rule = Anomaly.Rule


def test_a_revoked_token_still_presented_is_flagged(owner, org, now):
    token = make_token(owner, org, display_prefix="qgp_Rv0k", revoked_at=now - timedelta(days=1))
    batch = batch_over(log(*failures(2, now=now, prefix="qgp_Rv0k", reason="revoked")))

    [finding] = rules.revoked_token_used(batch)

    assert (finding.rule, finding.token_id) == (Rule.REVOKED_TOKEN_USED, token.id)
    assert finding.evidence == {"reason": "revoked", "count": 2, "token_prefix": "qgp_Rv0k"}


def test_an_expired_token_with_a_known_id_is_flagged(token, now):
    row = usage(token, at=now, status=401, auth_failure="expired")
    [finding] = rules.revoked_token_used(batch_over(log(row)))
    assert finding.token_id == token.id


def test_unknown_tokens_are_not_revoked_tokens(db, now):
    batch = batch_over(log(*failures(3, now=now, prefix="qgp_none", reason="unknown_token")))
    assert rules.revoked_token_used(batch) == []
