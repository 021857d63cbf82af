"""Each anomaly rule fires on crafted logs and stays quiet on normal traffic."""

from datetime import timedelta

import pytest
from django.utils import timezone

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, learn, log, make_token, steady_traffic, usage
from tokens.models import AuditEvent

Rule = Anomaly.Rule


@pytest.fixture
def now():
    return timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def thresholds(settings):
    def set_(**values):
        settings.QUAYGATE = {**settings.QUAYGATE, "ANOMALY": values}

    return set_


# --- new country -------------------------------------------------------------------------------


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


# --- new IP, new user agent ----------------------------------------------------------------------


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


# --- impossible travel -------------------------------------------------------------------------


def test_two_distant_countries_minutes_apart_are_impossible_travel(token, now):
    batch = batch_over(
        log(
            usage(token, at=now - timedelta(minutes=20), country="NL"),
            usage(token, at=now, country="AU"),
        )
    )

    [finding] = rules.impossible_travel(batch)

    assert (finding.rule, finding.severity) == (Rule.IMPOSSIBLE_TRAVEL, Anomaly.Severity.HIGH)
    assert finding.subject == "AU-NL"
    assert (finding.evidence["from"], finding.evidence["to"]) == ("NL", "AU")
    assert finding.evidence["distance_km"] > 14000


def test_travel_is_checked_against_the_country_of_the_previous_pass(token, now):
    learn(log(usage(token, at=now - timedelta(minutes=30), country="NL")))
    batch = batch_over(log(usage(token, at=now, country="US")))
    assert [f.subject for f in rules.impossible_travel(batch)] == ["NL-US"]


def test_neighbouring_countries_are_not_travel(token, now):
    batch = batch_over(
        log(
            usage(token, at=now - timedelta(minutes=5), country="NL"),
            usage(token, at=now, country="BE"),
        )
    )
    assert rules.impossible_travel(batch) == []


def test_a_distance_that_could_be_flown_is_not_impossible(token, now):
    batch = batch_over(
        log(
            usage(token, at=now - timedelta(hours=30), country="NL"),
            usage(token, at=now, country="AU"),
        )
    )
    assert rules.impossible_travel(batch) == []


def test_steady_traffic_from_one_country_is_not_travel(token, now):
    rows = steady_traffic(token, start=now - timedelta(hours=5), hours=5, per_hour=4)
    assert rules.impossible_travel(batch_over(rows)) == []


# --- volume spike ------------------------------------------------------------------------------


@pytest.fixture
def small_spike_thresholds(thresholds):
    thresholds(SPIKE_FLOOR=30, SPIKE_FACTOR=3.0, SPIKE_MIN_BASELINE_HOURS=4)


def test_an_hour_far_above_the_baseline_is_a_volume_spike(token, now, small_spike_thresholds):
    hour = now.replace(minute=0)
    learn(steady_traffic(token, start=hour - timedelta(hours=6), hours=6, per_hour=5))
    batch = batch_over(steady_traffic(token, start=hour, hours=1, per_hour=40))
    learn_hours(batch)

    [finding] = rules.volume_spike(batch)

    assert (finding.rule, finding.token_id) == (Rule.VOLUME_SPIKE, token.id)
    assert finding.evidence["requests"] == 40
    assert finding.evidence["baseline_p95"] == 5


def test_normal_volume_is_not_a_spike(token, now, small_spike_thresholds):
    hour = now.replace(minute=0)
    learn(steady_traffic(token, start=hour - timedelta(hours=6), hours=6, per_hour=12))
    batch = batch_over(steady_traffic(token, start=hour, hours=1, per_hour=35))
    learn_hours(batch)
    assert rules.volume_spike(batch) == []


def test_a_spike_below_the_floor_is_quiet(token, now, thresholds):
    thresholds(SPIKE_FLOOR=100, SPIKE_FACTOR=3.0, SPIKE_MIN_BASELINE_HOURS=4)
    hour = now.replace(minute=0)
    learn(steady_traffic(token, start=hour - timedelta(hours=6), hours=6, per_hour=2))
    batch = batch_over(steady_traffic(token, start=hour, hours=1, per_hour=40))
    learn_hours(batch)
    assert rules.volume_spike(batch) == []


def test_a_token_without_a_baseline_has_no_spike(token, now, small_spike_thresholds):
    batch = batch_over(steady_traffic(token, start=now.replace(minute=0), hours=1, per_hour=80))
    learn_hours(batch)
    assert rules.volume_spike(batch) == []


def learn_hours(batch):
    from telemetry.rollups import roll_up_hours

    roll_up_hours(batch)


# --- failed-auth burst -------------------------------------------------------------------------


def failures(count, *, now, ip="203.0.113.9", prefix="", reason="unknown_token"):
    return [
        usage(
            None,
            at=now - timedelta(seconds=index),
            status=401,
            ip=ip,
            auth_failure=reason,
            token_prefix=prefix,
        )
        for index in range(count)
    ]


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


# --- revoked or expired token still in use ----------------------------------------------------


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


# --- scope-denied burst ------------------------------------------------------------------------


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


# --- from the audit log ------------------------------------------------------------------------


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


# --- normal traffic --------------------------------------------------------------------------


def test_normal_traffic_raises_nothing(token, now):
    learn(steady_traffic(token, start=now - timedelta(days=3), hours=24, per_hour=3))
    batch = batch_over(steady_traffic(token, start=now - timedelta(hours=2), hours=2, per_hour=20))
    learn_hours(batch)
    assert [finding for rule in rules.USAGE_RULES for finding in rule(batch)] == []
