"""The usage log middleware: what it records, what it never records, and what it costs."""

import json

import pytest

from telemetry import usage
from telemetry.models import UsageRecord
from telemetry.usage import drain_usage_stream
from tests.conftest import kill_connections_to_this_db
from tests.telemetry.factories import records_in_stream
from tokens.format import generate

pytestmark = pytest.mark.urls("tests.telemetry.urls")


def authenticated_headers(token) -> dict[str, str]:
    return {
        "HTTP_X_TEST_TOKEN_ID": str(token.id),
        "HTTP_X_TEST_ORG_ID": str(token.organization_id),
        "HTTP_X_TEST_PREFIX": token.display_prefix,
    }


def test_an_authenticated_request_is_logged_with_its_route_and_token(client, token, no_redis):
    response = client.get(
        "/api/v1/spreaders/SP-1",
        HTTP_USER_AGENT="partner-sync/2.1",
        REMOTE_ADDR="8.8.8.8",
        **authenticated_headers(token),
    )

    row = UsageRecord.objects.get()
    assert (row.token_id, row.organization_id) == (token.id, token.organization_id)
    assert row.token_prefix == token.display_prefix
    assert (row.method, row.route, row.path) == (
        "GET",
        "api/v1/spreaders/<str:serial>",
        "/api/v1/spreaders/SP-1",
    )
    assert row.status == 200
    assert row.response_bytes == len(response.content)
    assert row.latency_ms > 0
    assert (row.ip, row.country) == ("8.8.8.8", "US")
    assert row.user_agent == "partner-sync/2.1"
    assert row.auth_failure == ""


def test_a_failed_authentication_is_logged_with_reason_and_prefix(client, db, no_redis):
    client.get(
        "/api/v1/spreaders/SP-1",
        HTTP_X_TEST_FAILURE="revoked",
        HTTP_X_TEST_PREFIX="qgp_AbCd",
        REMOTE_ADDR="203.0.113.5",
    )

    row = UsageRecord.objects.get()
    assert row.token_id is None
    assert (row.status, row.auth_failure, row.token_prefix) == (401, "revoked", "qgp_AbCd")
    assert row.ip == "203.0.113.5"


def test_a_sandbox_tokens_requests_are_marked_sandbox(client, token, no_redis):
    client.get("/api/v1/spreaders/SP-1", **authenticated_headers(token))
    client.get(
        "/api/v1/spreaders/SP-1",
        **{**authenticated_headers(token), "HTTP_X_TEST_PREFIX": "qgs_Ab12"},
    )
    client.get("/api/v1/spreaders/SP-1", HTTP_X_TEST_FAILURE="revoked", HTTP_X_TEST_PREFIX="qgs_Zz")

    rows = UsageRecord.objects.order_by("id")
    assert [(r.token_prefix, r.sandbox) for r in rows] == [
        (token.display_prefix, False),
        ("qgs_Ab12", True),
        ("qgs_Zz", True),
    ]


def test_requests_outside_the_partner_api_are_not_logged(client, db, no_redis):
    client.get("/dashboard")
    assert not UsageRecord.objects.exists()


def test_the_user_agent_is_truncated(client, token, no_redis):
    client.get("/api/v1/spreaders/SP-1", HTTP_USER_AGENT="x" * 1000, **authenticated_headers(token))
    assert len(UsageRecord.objects.get().user_agent) == 300


def test_a_streaming_response_is_logged_without_consuming_it(client, db, no_redis):
    response = client.get("/api/v1/stream")
    assert b"".join(response.streaming_content) == b"ab"
    assert UsageRecord.objects.get().status == 200


def test_a_broken_usage_log_does_not_break_the_request(client, token, no_redis, monkeypatch):
    def explode(record):
        raise RuntimeError("disk full")

    monkeypatch.setattr("telemetry.middleware.record_usage", explode)
    response = client.get("/api/v1/spreaders/SP-1", **authenticated_headers(token))
    assert response.status_code == 200


def test_the_secret_never_reaches_the_log(client, token, no_redis):
    secret = generate()
    client.get(
        f"/api/v1/spreaders/{secret}?access_token={secret}",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_USER_AGENT=f"curl/8 {secret}",
        **authenticated_headers(token),
    )

    row = UsageRecord.objects.values().get()
    stored = json.dumps(row, default=str)
    assert secret not in stored
    assert secret[4:] not in stored  # not even the body without its prefix
    assert "Bearer" not in stored
    assert row["path"] == f"/api/v1/spreaders/{secret[:8]}…"


def test_the_secret_never_reaches_the_stream_either(client, token, stream):
    secret = generate()
    client.get(
        f"/api/v1/spreaders/SP-1?token={secret}",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        **authenticated_headers(token),
    )

    usage.settle()  # Redis has answered the XADD: the entry is there for any connection
    [(_, fields)] = stream.xrange(stream_key(stream))
    assert secret.encode() not in fields[b"b"]
    assert b"Bearer" not in fields[b"b"]


def test_with_redis_a_request_costs_no_database_query(
    client, token, stream, django_assert_num_queries
):
    with django_assert_num_queries(0):
        client.get("/api/v1/spreaders/SP-1", **authenticated_headers(token))

    usage.settle()
    assert stream.xlen(stream_key(stream)) == 1
    assert not UsageRecord.objects.exists()
    drain_usage_stream(consumer="test")
    assert UsageRecord.objects.get().token_id == token.id


def stream_key(_client) -> str:
    from telemetry.conf import setting

    return setting("USAGE_STREAM_KEY")


def test_a_record_redis_refuses_is_stored_directly_and_only_once(client, token, stream):
    # The stream key holds a string: Redis answers the XADD with WRONGTYPE. The request only
    # buffered the record; the flush that Redis refuses stores it in the database instead of
    # losing it (tests/tokens/test_token_cache.py follows the same through real requests).
    stream.set(stream_key(stream), "not a stream")
    response = client.get("/api/v1/spreaders/SP-1", **authenticated_headers(token))
    assert response.status_code == 200
    assert not UsageRecord.objects.exists()  # buffered, not flushed yet
    assert usage.settle() == 1
    row = UsageRecord.objects.get()
    assert (row.token_id, row.status) == (token.id, 200)
    assert usage.settle() == 0  # nothing more is buffered: still one row
    assert UsageRecord.objects.count() == 1


def test_a_dropped_connection_loses_no_record_and_does_not_trip_the_breaker(client, token, stream):
    import telemetry.usage

    client.get("/api/v1/spreaders/SP-1", **authenticated_headers(token))
    usage.settle()
    # A proxy's idle timeout, or a Redis restart: every kept connection but the test's is dead.
    kill_connections_to_this_db(stream, "normal")
    kill_connections_to_this_db(stream, "pubsub")
    for _ in range(3):
        assert client.get("/api/v1/spreaders/SP-1", **authenticated_headers(token)).status_code
    usage.settle()
    # Each of the four records is in the stream or, failed over, in the database: none lost.
    waiting = records_in_stream(stream, stream_key(stream))
    assert len(waiting) + UsageRecord.objects.count() == 4
    assert telemetry.usage._redis_down_until == 0.0  # a new connection worked: Redis is up


def settings_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL
