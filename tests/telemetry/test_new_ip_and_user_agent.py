"""The new-IP and new-user-agent rules: low-severity findings for what a token has not shown
before, quiet for what it has."""

from datetime import timedelta

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, learn, log, usage


def test_a_new_ip_and_a_new_user_agent_are_low_severity_findings(token, now):
    learn(log(usage(token, at=now - timedelta(days=1), ip="192.0.2.1", user_agent="sync/1")))
    batch = batch_over(log(usage(token, at=now, ip="192.0.2.99", user_agent="curl/8.1")))

    [ip] = rules.new_ip(batch)
    [agent] = rules.new_user_agent(batch)

    assert (ip.subject, ip.severity) == ("192.0.2.99", Anomaly.Severity.LOW)
    assert (agent.subject, agent.severity) == ("curl/8.1", Anomaly.Severity.LOW)


def test_known_ip_and_user_agent_are_quiet(token, now):
    learn(log(usage(token, at=now - timedelta(days=1))))
    batch = batch_over(log(usage(token, at=now)))
    assert rules.new_ip(batch) == rules.new_user_agent(batch) == []
