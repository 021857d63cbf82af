"""The per-request metrics count what the API answered, in this process, for nothing."""

import socket
import time
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from observability import metrics
from tokens import format as token_format
from tokens.actors import Actor
from tokens.services import revoke_token

pytestmark = pytest.mark.django_db

REQUESTS = "quaygate_api_requests_total"
TERMINALS = "api/v1/terminals"


def test_an_answered_request_is_counted_by_route_method_status_and_kind(partner, fleet, sample):
    labels = {"route": TERMINALS, "method": "GET", "status_class": "2xx", "token_kind": "write"}
    before = sample(REQUESTS, **labels)
    seen = sample("quaygate_api_request_duration_seconds_count", route=TERMINALS)

    assert partner.get("/api/v1/terminals").status_code == 200

    assert sample(REQUESTS, **labels) == before + 1
    assert sample("quaygate_api_request_duration_seconds_count", route=TERMINALS) == seen + 1


def test_a_read_only_token_is_of_kind_read(issue, owner, api_client, fleet, sample):
    reader = api_client(issue(owner, scopes=["fleet:read"]).secret)
    labels = {"route": TERMINALS, "method": "GET", "status_class": "2xx", "token_kind": "read"}
    before = sample(REQUESTS, **labels)

    reader.get("/api/v1/terminals")

    assert sample(REQUESTS, **labels) == before + 1


def test_the_route_is_the_pattern_not_the_path(partner, fleet, sample):
    route = "api/v1/spreaders/<serial:serial>"
    before = sample("quaygate_api_request_duration_seconds_count", route=route)

    partner.get("/api/v1/spreaders/EMX-001")
    partner.get("/api/v1/spreaders/NOPE-404")

    assert sample("quaygate_api_request_duration_seconds_count", route=route) == before + 2


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing"),
        ("Bearer nonsense", "malformed"),
        ("Bearer " + token_format.PREFIX + "A" * 36, "bad_checksum"),
        ("Bearer " + token_format.generate(), "unknown"),
    ],
    # Named by the reason: a generated token in the id would differ between xdist's workers.
    ids=["missing", "malformed", "bad_checksum", "unknown"],
)
def test_a_refusal_is_counted_by_its_reason(api_client, fleet, sample, authorization, reason):
    client = api_client()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    before = sample("quaygate_auth_failures_total", reason=reason)
    refused = {"route": TERMINALS, "method": "GET", "status_class": "4xx"}
    kind = "none" if authorization is None else "refused"
    requests_before = sample(REQUESTS, **refused, token_kind=kind)

    assert client.get("/api/v1/terminals").status_code == 401

    assert sample("quaygate_auth_failures_total", reason=reason) == before + 1
    assert sample(REQUESTS, **refused, token_kind=kind) == requests_before + 1


def test_another_endpoints_own_401_is_not_a_refused_token(rf, sample):
    request = rf.post("/api/v1/secret-scanning/github")
    response = mock.Mock(status_code=401, problem={"code": "invalid_signature"})
    before = {
        reason: sample("quaygate_auth_failures_total", reason=reason) for reason in metrics.REASONS
    }

    metrics.observe(request, response, seconds=0.001)

    after = {
        reason: sample("quaygate_auth_failures_total", reason=reason) for reason in metrics.REASONS
    }
    assert after == before


def test_an_address_blocked_after_failures_is_both_a_refusal_and_rate_limited(rf, sample):
    request = rf.get("/api/v1/terminals")
    request.qg_auth_failure = {"reason": "address_blocked"}
    response = mock.Mock(status_code=429, problem={"code": "too_many_requests"})
    refused = sample("quaygate_auth_failures_total", reason="address_blocked")
    limited = sample("quaygate_rate_limited_total", limit="address")

    metrics.observe(request, response, seconds=0.001)

    assert sample("quaygate_auth_failures_total", reason="address_blocked") == refused + 1
    assert sample("quaygate_rate_limited_total", limit="address") == limited + 1


def test_a_revoked_token_is_counted_as_revoked(issued, partner, owner, fleet, sample, committed):
    with committed():
        revoke_token(issued.token, actor=Actor.for_user(owner), reason="test")
    before = sample("quaygate_auth_failures_total", reason="revoked")

    assert partner.get("/api/v1/terminals").status_code == 401

    assert sample("quaygate_auth_failures_total", reason="revoked") == before + 1


def test_a_token_over_its_limit_is_counted_as_rate_limited(issue, owner, api_client, fleet, sample):
    client = api_client(issue(owner, rate_limit_per_hour=1).secret)
    before = sample("quaygate_rate_limited_total", limit="token")

    client.get("/api/v1/terminals")
    assert client.get("/api/v1/terminals").status_code == 429

    assert sample("quaygate_rate_limited_total", limit="token") == before + 1


def test_switched_off_nothing_is_counted(partner, fleet, sample, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "METRICS_ENABLED": False}
    labels = {"route": TERMINALS, "method": "GET", "status_class": "2xx", "token_kind": "write"}
    before = sample(REQUESTS, **labels)

    partner.get("/api/v1/terminals")

    assert sample(REQUESTS, **labels) == before


def test_the_portal_is_not_an_api_request(client, sample):
    metrics.flush()
    before = sum(
        s.value for m in metrics.REQUESTS.collect() for s in m.samples if s.name == REQUESTS
    )
    client.get("/accounts/login/")

    metrics.flush()
    after = sum(
        s.value for m in metrics.REQUESTS.collect() for s in m.samples if s.name == REQUESTS
    )
    assert after == before


def test_counting_a_request_costs_no_query_and_no_network(partner, fleet, rf):
    response = partner.get("/api/v1/terminals")
    request = response.wsgi_request

    with (
        CaptureQueriesContext(connection) as queries,
        mock.patch.object(socket.socket, "send", side_effect=AssertionError("network")),
        mock.patch.object(socket.socket, "sendall", side_effect=AssertionError("network")),
    ):
        metrics.observe(request, response, seconds=0.002)
        metrics.flush()

    assert queries.captured_queries == []


def test_the_flush_thread_hands_requests_over_within_a_second(partner, fleet):
    labels = ("api/v1/terminals", "GET", "2xx", "write")
    metrics.flush()
    before = metrics.REQUESTS.labels(*labels)._value.get()

    partner.get("/api/v1/terminals")

    deadline = time.monotonic() + 3 * metrics.FLUSH_SECONDS
    while metrics.REQUESTS.labels(*labels)._value.get() == before:
        assert time.monotonic() < deadline, "the flush thread never handed the request over"
        time.sleep(0.05)
    assert metrics.REQUESTS.labels(*labels)._value.get() == before + 1


def test_an_unexpected_method_or_reason_never_makes_a_new_series(rf, sample):
    request = rf.generic("BREW", "/api/v1/terminals")
    request.qg_auth_failure = {"reason": "something new"}
    response = mock.Mock(status_code=401, problem={"code": "invalid_token"})
    before = sample("quaygate_auth_failures_total", reason="other")

    metrics.observe(request, response, seconds=0.001)

    assert sample("quaygate_auth_failures_total", reason="other") == before + 1
    assert (
        sample(
            REQUESTS, route="unmatched", method="OTHER", status_class="4xx", token_kind="refused"
        )
        >= 1
    )
