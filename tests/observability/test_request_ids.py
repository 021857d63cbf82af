"""One id per request: accepted from our proxies, made otherwise, and found everywhere the
request went: the response header, the problem body, the usage row, the log line."""

import logging
import uuid

import pytest

from core import requestid
from telemetry.models import UsageRecord

pytestmark = pytest.mark.django_db

PROXY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_every_portal_response_carries_a_new_request_id(client):
    first = client.get("/accounts/login/")
    second = client.get("/healthz")

    assert requestid.is_sane(first["X-Request-Id"])
    assert requestid.is_sane(second["X-Request-Id"])
    assert first["X-Request-Id"] != second["X-Request-Id"]


def test_a_404_page_and_a_redirect_carry_it_too(client):
    assert requestid.is_sane(client.get("/no-such-page/")["X-Request-Id"])
    assert requestid.is_sane(client.get("/")["X-Request-Id"])  # to the sign-in page


def test_the_id_of_a_trusted_proxy_is_kept(client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]

    response = client.get("/healthz", HTTP_X_REQUEST_ID=PROXY_ID)

    assert response["X-Request-Id"] == PROXY_ID


def test_an_id_from_anyone_else_is_replaced(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.10"]

    response = client.get("/healthz", HTTP_X_REQUEST_ID=PROXY_ID)

    assert response["X-Request-Id"] != PROXY_ID
    assert requestid.is_sane(response["X-Request-Id"])


@pytest.mark.parametrize(
    "offered",
    ["", "abc", "x" * 300, PROXY_ID + "\nSet-Cookie: a=b", "'; DROP TABLE x; --", PROXY_ID[:-1]],
)
def test_an_insane_id_even_from_our_proxy_is_replaced(client, settings, offered):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]

    response = client.get("/healthz", HTTP_X_REQUEST_ID=offered)

    assert response["X-Request-Id"] != offered
    assert requestid.is_sane(response["X-Request-Id"])


def test_a_problem_body_names_its_request(api_client, fleet):
    response = api_client("qgp_not-a-token").get("/api/v1/terminals")

    assert response.status_code == 401
    assert response.json()["request_id"] == response["X-Request-Id"]


def test_an_unknown_api_path_problem_names_it_too(api_client):
    response = api_client().get("/api/v1/nowhere")

    assert response.status_code == 404
    assert response.json()["request_id"] == response["X-Request-Id"]


def test_the_usage_row_has_the_same_id(partner, fleet, no_redis, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]

    response = partner.get("/api/v1/terminals", HTTP_X_REQUEST_ID=PROXY_ID)

    assert response.status_code == 200
    row = UsageRecord.objects.get()
    assert row.request_id == uuid.UUID(PROXY_ID)


def test_a_generated_id_is_the_usage_rows_too(partner, fleet, no_redis):
    response = partner.get("/api/v1/terminals")

    assert UsageRecord.objects.get().request_id == uuid.UUID(response["X-Request-Id"])


def test_the_api_log_line_has_it(partner, fleet, caplog):
    with caplog.at_level(logging.INFO, logger="quaygate.api"):
        response = partner.get("/api/v1/terminals")

    (line,) = [r for r in caplog.records if r.name == "quaygate.api"]
    assert line.request_id == response["X-Request-Id"]


def test_no_id_is_current_once_the_request_is_answered(client):
    client.get("/healthz")

    assert requestid.current() is None
