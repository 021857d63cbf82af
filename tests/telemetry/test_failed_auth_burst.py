"""The failed-auth-burst rule: many failed authentications from one address, or against one token
prefix, within the hour."""

from datetime import timedelta

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, failures, log, make_token

Rule = Anomaly.Rule


def test_many_failed_authentications_from_one_ip_are_a_burst(db, now, thresholds):
    thresholds(FAILED_AUTH_PER_IP_PER_HOUR=10)
    batch = batch_over(log(*failures(10, now=now)))

    [finding] = rules.failed_auth_burst(batch)

    assert (finding.rule, finding.token_id) == (Rule.FAILED_AUTH_BURST, None)
    assert finding.subject == "ip:203.0.113.9"
    assert finding.evidence["count"] == 10


def test_a_burst_split_over_two_passes_is_counted_whole(db, now, thresholds):
    thresholds(FAILED_AUTH_PER_IP_PER_HOUR=10)
    log(*failures(6, now=now - timedelta(minutes=1)))
    batch = batch_over(log(*failures(4, now=now)))
    assert len(rules.failed_auth_burst(batch)) == 1


def test_failures_against_one_prefix_name_its_token(owner, org, now, thresholds):
    thresholds(FAILED_AUTH_PER_IP_PER_HOUR=1000, FAILED_AUTH_PER_PREFIX_PER_HOUR=5)
    token = make_token(owner, org, display_prefix="qgp_Zz9a")
    rows = [
        *failures(3, now=now, ip="198.51.100.1", prefix="qgp_Zz9a"),
        *failures(3, now=now, ip="198.51.100.2", prefix="qgp_Zz9a"),
    ]
    [finding] = rules.failed_auth_burst(batch_over(log(*rows)))
    assert (finding.subject, finding.token_id) == ("prefix:qgp_Zz9a", token.id)


def test_a_few_failures_are_quiet(db, now):
    assert rules.failed_auth_burst(batch_over(log(*failures(3, now=now, prefix="qgp_abcd")))) == []
