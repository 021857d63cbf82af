"""The new-country rule: a country the token has not used within the lookback is flagged; its
first use, and history being learned, are not."""

from datetime import timedelta

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, learn, log, usage

Rule = Anomaly.Rule


def test_a_token_used_from_a_new_country_is_flagged(token, now):
    learn(log(usage(token, at=now - timedelta(days=10), country="NL")))
    batch = batch_over(log(usage(token, at=now, country="AU", ip="1.1.1.1")))

    [finding] = rules.new_country(batch)

    assert (finding.rule, finding.token_id, finding.subject) == (Rule.NEW_COUNTRY, token.id, "AU")
    assert finding.window == now.strftime("%Y-%m-%d")
    assert finding.severity == Anomaly.Severity.MEDIUM


def test_a_country_used_within_the_lookback_is_not_new(token, now):
    learn(log(usage(token, at=now - timedelta(days=29), country="AU")))
    batch = batch_over(log(usage(token, at=now, country="AU")))
    assert rules.new_country(batch) == []


def test_a_country_last_used_before_the_lookback_is_new_again(token, now):
    learn(log(usage(token, at=now - timedelta(days=31), country="AU")))
    learn(log(usage(token, at=now - timedelta(days=2), country="NL")))
    batch = batch_over(log(usage(token, at=now, country="AU")))
    assert [f.subject for f in rules.new_country(batch)] == ["AU"]


def test_the_first_use_of_a_token_is_not_a_new_country(token, now):
    batch = batch_over(log(usage(token, at=now, country="AU")))
    assert rules.new_country(batch) == []


def test_a_new_country_later_in_the_same_batch_is_flagged(token, now):
    batch = batch_over(
        log(
            usage(token, at=now - timedelta(hours=3), country="NL"),
            usage(token, at=now, country="BR"),
        )
    )
    assert [f.subject for f in rules.new_country(batch)] == ["BR"]


def test_old_history_is_learned_but_not_reported(token, now):
    learn(log(usage(token, at=now - timedelta(days=20), country="NL")))
    batch = batch_over(log(usage(token, at=now - timedelta(days=3), country="AU")))
    assert rules.new_country(batch) == []
