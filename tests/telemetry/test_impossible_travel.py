"""The impossible-travel rule: two countries further apart than could be flown in the time between."""

from datetime import timedelta

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, learn, log, steady_traffic, usage

Rule = Anomaly.Rule


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
