"""All the usage rules together stay quiet on normal traffic. Each rule's own cases are in its
file: test_new_country, test_new_ip_and_user_agent, test_impossible_travel, test_volume_spike,
test_failed_auth_burst, test_revoked_token_used, test_scope_denied_burst, test_audit_findings."""

from datetime import timedelta

from telemetry import rules
from tests.telemetry.factories import batch_over, learn, learn_hours, steady_traffic


def test_normal_traffic_raises_nothing(token, now):
    learn(steady_traffic(token, start=now - timedelta(days=3), hours=24, per_hour=3))
    batch = batch_over(steady_traffic(token, start=now - timedelta(hours=2), hours=2, per_hour=20))
    learn_hours(batch)
    assert [finding for rule in rules.USAGE_RULES for finding in rule(batch)] == []
