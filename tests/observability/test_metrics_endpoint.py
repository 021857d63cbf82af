"""GET /metrics: the Prometheus text format, for the scraper and nobody else."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Notification
from observability import snapshot
from telemetry.models import Anomaly
from tests.telemetry.factories import make_token

pytestmark = pytest.mark.django_db

SECRET = "m" * 40


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


@pytest.fixture
def production_access(settings):
    """What production has: nobody allowed until a secret or addresses are chosen."""
    settings.QUAYGATE = {
        **settings.QUAYGATE,
        "METRICS_BEARER_TOKEN": "",
        "METRICS_ALLOWED_IPS": [],
    }


def test_the_embedded_default_is_open_on_loopback(client):
    assert client.get("/metrics").status_code == 200


def test_the_embedded_default_is_closed_to_other_addresses(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 403


def test_production_allows_nobody_by_default(client, production_access):
    assert client.get("/metrics").status_code == 403


def test_the_bearer_secret_opens_it(client, production_access, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "METRICS_BEARER_TOKEN": SECRET}

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {SECRET}").status_code == 200
    refused = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics").status_code == 401


def test_an_allowed_address_opens_it(client, production_access, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "METRICS_ALLOWED_IPS": ["10.1.0.0/16"]}

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403


def test_a_forged_forwarded_for_opens_nothing(client, production_access, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "METRICS_ALLOWED_IPS": ["10.1.0.0/16"]}

    response = client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="10.1.2.3")

    assert response.status_code == 403


def test_only_get(client):
    assert client.post("/metrics").status_code == 405


def test_it_shows_the_request_metrics(partner, fleet, client):
    partner.get("/api/v1/terminals")

    samples = scrape(client)

    assert any(name == "quaygate_api_requests_total" for name, _ in samples)
    assert any(name == "quaygate_api_request_duration_seconds_bucket" for name, _ in samples)


def test_the_outbox_gauges_count_what_waits(client, owner):
    now = timezone.now()
    for minutes, state in ((30, "queued"), (5, "sending"), (90, "sent")):
        Notification.objects.create(
            kind="token_revoked",
            user=owner,
            to_email=owner.email,
            subject="s",
            body_text="b",
            dedup_key=f"test:{uuid.uuid4()}",
            state=state,
            created_at=now - timedelta(minutes=minutes),
        )

    samples = scrape(client)

    assert samples[("quaygate_outbox_pending", (("kind", "token_revoked"),))] == 2
    assert samples[("quaygate_outbox_pending", (("kind", "anomaly"),))] == 0
    assert 29 * 60 < samples[("quaygate_outbox_oldest_age_seconds", ())] < 31 * 60


def test_tokens_and_findings_come_from_the_snapshot(client, owner, org):
    make_token(owner, org, scopes=["fleet:read"])
    make_token(owner, org, scopes=["alarms:write"])
    make_token(owner, org, scopes=["fleet:read"], revoked_at=timezone.now())
    Anomaly.objects.create(rule="new_country", severity="medium", subject="t")
    snapshot.refresh()

    samples = scrape(client)

    assert samples[("quaygate_tokens_active", (("kind", "read"),))] == 1
    assert samples[("quaygate_tokens_active", (("kind", "write"),))] == 1
    key = ("quaygate_anomalies_total", (("rule", "new_country"), ("severity", "medium")))
    assert samples[key] == 1
    assert (
        samples[("quaygate_anomalies_total", (("rule", "volume_spike"), ("severity", "high")))] == 0
    )
    assert time.time() - samples[("quaygate_worker_last_seen_timestamp_seconds", ())] < 60


def test_a_scrape_never_counts_again_while_the_snapshot_is_fresh(
    client, owner, org, django_assert_max_num_queries
):
    snapshot.refresh()
    make_token(owner, org)

    with django_assert_max_num_queries(1):  # the outbox; the tokens are the snapshot's
        samples = scrape(client)

    assert sum(v for (n, _), v in samples.items() if n == "quaygate_tokens_active") == 0


def test_without_a_snapshot_a_scrape_makes_one_and_no_heartbeat_is_claimed(client, owner, org):
    make_token(owner, org, scopes=["maintenance:write"])

    samples = scrape(client)

    assert samples[("quaygate_tokens_active", (("kind", "write"),))] == 1
    assert ("quaygate_worker_last_seen_timestamp_seconds", ()) not in samples


def test_the_stream_lag_is_what_waits_in_redis(client, redis_client, settings):
    key = f"test:usage:{uuid.uuid4().hex}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    try:
        for n in range(3):
            redis_client.xadd(key, {"v": str(n)})

        assert scrape(client)[("quaygate_usage_stream_lag", ())] == 3
    finally:
        redis_client.delete(key)


def test_the_stream_age_is_that_of_its_oldest_entry_by_redis_clock(client, redis_client, settings):
    key = f"test:usage:{uuid.uuid4().hex}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    try:
        assert scrape(client)[("quaygate_usage_stream_oldest_age_seconds", ())] == 0
        seconds, _ = redis_client.time()
        redis_client.xadd(key, {"b": "[]"}, id=f"{(seconds - 120) * 1000}-0")  # two minutes ago
        redis_client.xadd(key, {"b": "[]"})  # and now

        age = scrape(client)[("quaygate_usage_stream_oldest_age_seconds", ())]

        assert 120 <= age < 125
    finally:
        redis_client.delete(key)


def test_no_stream_without_redis(client, no_redis):
    samples = scrape(client)

    assert ("quaygate_usage_stream_lag", ()) not in samples
    assert ("quaygate_usage_stream_oldest_age_seconds", ()) not in samples
    assert samples[("quaygate_scrape_errors", (("source", "usage_stream"),))] == 0


def test_a_broken_source_is_reported_and_the_rest_still_shown(client, settings, monkeypatch):
    from observability import collector

    def broken():
        raise RuntimeError("redis is on fire")
        yield

    monkeypatch.setattr(collector, "_stream", broken)

    samples = scrape(client)

    assert samples[("quaygate_scrape_errors", (("source", "usage_stream"),))] == 1
    assert ("quaygate_outbox_oldest_age_seconds", ()) in samples
