"""The volume-spike rule: an hour far above the token's baseline, above the floor, once there is a
baseline."""

from datetime import timedelta

import pytest

from telemetry import rules
from telemetry.models import Anomaly
from tests.telemetry.factories import batch_over, learn, learn_hours, steady_traffic

Rule = Anomaly.Rule


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
