"""Every bad request is a 4xx problem document (RFC 9457), never a 500 or an HTML page."""

import json
import logging

import pytest

from api.problems import exception_handler, problem_for_token_error
from tokens.exceptions import InvalidInput, PermissionDenied, TokenNotActive

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/api/getting-started/#problem-{code}"
    return body


def test_no_token_gets_401_with_the_bearer_challenge(fleet, api_client):
    response = api_client().get("/api/v1/spreaders")

    problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="quaygate"'


def test_garbage_token_gets_401_invalid_token(fleet, api_client):
    response = api_client("qgp_not-a-real-token").get("/api/v1/spreaders")

    problem(response, 401, "invalid_token")
    assert response["WWW-Authenticate"] == 'Bearer realm="quaygate", error="invalid_token"'
    assert "X-RateLimit-Limit" not in response


def test_revoked_token_gets_401(fleet, issued, api_client, owner):
    from tokens import services
    from tokens.actors import Actor

    services.revoke_token(issued.token, actor=Actor.for_user(owner), reason="test")

    problem(api_client(issued.secret).get("/api/v1/spreaders"), 401, "invalid_token")


def test_token_in_the_query_string_is_a_400(fleet, issued, api_client):
    response = api_client().get(f"/api/v1/spreaders?access_token={issued.secret}")

    body = problem(response, 400, "token_in_url")
    assert issued.secret not in response.content.decode()
    assert "Authorization header" in body["detail"]


def test_malformed_json_is_a_400_parse_error(fleet, partner):
    response = partner.post(
        "/api/v1/spreaders/EMX-001/maintenance", data='{"kind": ', content_type="application/json"
    )

    body = problem(response, 400, "parse_error")
    assert "not valid JSON" in body["detail"]


def test_json_nested_too_deeply_is_a_400_not_a_500(fleet, partner):
    body = "[" * 30000 + "]" * 30000

    response = partner.post(
        "/api/v1/spreaders/EMX-001/maintenance", data=body, content_type="application/json"
    )

    problem(response, 400, "parse_error")


def test_nan_is_not_json(fleet, partner):
    response = partner.post(
        "/api/v1/token/rotate", data='{"overlap_hours": NaN}', content_type="application/json"
    )

    problem(response, 400, "parse_error")


def test_body_that_is_not_utf8_is_a_400(fleet, partner):
    response = partner.post(
        "/api/v1/token/rotate", data=b'{"overlap_hours": "\xff"}', content_type="application/json"
    )

    problem(response, 400, "parse_error")


def test_a_json_array_body_is_a_validation_error(fleet, partner):
    response = partner.post("/api/v1/token/rotate", data=[1, 2], format="json")

    problem(response, 400, "validation_error")


def test_wrong_content_type_is_a_415(fleet, partner):
    response = partner.post(
        "/api/v1/spreaders/EMX-001/maintenance",
        data="kind=inspection",
        content_type="application/x-www-form-urlencoded",
    )

    problem(response, 415, "unsupported_media_type")


def test_huge_body_is_a_413(fleet, partner):
    body = json.dumps({"description": "x" * 100_000})

    response = partner.post(
        "/api/v1/spreaders/EMX-001/maintenance", data=body, content_type="application/json"
    )

    problem(response, 413, "request_too_large")


def test_unsupported_method_is_a_405_with_allow(fleet, partner):
    response = partner.delete("/api/v1/spreaders")

    problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_asking_for_html_is_a_406_problem(fleet, partner):
    response = partner.get("/api/v1/spreaders", HTTP_ACCEPT="text/html")

    problem(response, 406, "not_acceptable")


def test_unknown_path_under_v1_is_a_404_problem(fleet, partner):
    problem(partner.get("/api/v1/nowhere"), 404, "not_found")


def test_trailing_slash_gets_a_hint(fleet, partner):
    body = problem(partner.get("/api/v1/spreaders/"), 404, "not_found")

    assert "no trailing slash" in body["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/spreaders/%00",
        "/api/v1/spreaders/" + "A" * 500,
        "/api/v1/alarms/99999999999999999999999999/acknowledge",
        "/api/v1/spreaders/%F0%9F%9A%A2",
    ],
)
def test_paths_that_cannot_name_an_object_are_404s(fleet, partner, path):
    response = partner.get(path) if "acknowledge" not in path else partner.post(path)

    problem(response, 404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        "terminal=%00",
        "terminal=" + "x" * 5000,
        "ordering=%27;DROP",
        "limit=-1",
        "limit=1e3",
    ],
)
def test_hostile_query_strings_are_400s(fleet, partner, query):
    problem(partner.get(f"/api/v1/spreaders?{query}"), 400, "validation_error")


def test_invalid_utf8_in_a_query_string_matches_nothing(fleet, partner):
    # Django decodes it with replacement characters: a harmless string, not an error.
    response = partner.get("/api/v1/spreaders?model=%ED%A0%80")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_bad_date_is_a_400_naming_the_field(fleet, partner):
    body = problem(partner.get("/api/v1/alarms?since=yesterday"), 400, "validation_error")

    assert body["errors"][0]["field"] == "since"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00"])
def test_dates_at_the_edge_of_time_are_400s(fleet, partner, moment):
    response = partner.get(f"/api/v1/spreaders/EMX-001/telemetry?until={moment}")

    problem(response, 400, "validation_error")


def test_an_unexpected_error_is_a_500_problem_without_details(fleet, partner, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: SELECT * FROM tokens")

    monkeypatch.setattr("fleet.selectors.spreaders_visible_to", broken)

    with caplog.at_level(logging.ERROR, logger="api.problems"):
        response = partner.get("/api/v1/spreaders")

    body = problem(response, 500, "server_error")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["detail"].startswith("Something went wrong on our side")
    assert "secret internals" in caplog.text  # logged for us


def test_a_token_service_refusal_names_its_field_and_code():
    error = InvalidInput("0 to 24 hours.", code="invalid_overlap", field="overlap_hours")

    body = problem_for_token_error(error).problem

    assert body["status"] == 400
    assert body["code"] == "token_rejected"
    assert body["errors"] == [
        {"field": "overlap_hours", "code": "invalid_overlap", "detail": "0 to 24 hours."}
    ]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (TokenNotActive("Revoked.", code="token_revoked"), 409, "token_not_active"),
        (PermissionDenied("No.", code="permission_denied"), 403, "permission_denied"),
    ],
)
def test_token_service_refusals_map_to_their_status(error, status, code):
    response = exception_handler(error, {})

    assert response.status_code == status
    assert response.problem["code"] == code


@pytest.mark.parametrize(
    "query", ["terminal=", "limit=", "status=", "ordering=", "status=retired&status="]
)
def test_an_empty_parameter_is_refused_not_ignored(fleet, partner, query):
    body = problem(partner.get(f"/api/v1/spreaders?{query}"), 400, "validation_error")

    assert body["errors"][0]["code"] == "blank"


def test_an_empty_cursor_is_the_first_page(fleet, partner):
    assert partner.get("/api/v1/spreaders?cursor=").status_code == 200


def test_a_post_to_an_unknown_path_is_a_404_not_a_csrf_failure(fleet, partner):
    problem(partner.post("/api/v1/alarms/abc/acknowledge"), 404, "not_found")


def test_a_database_outage_is_a_503_with_retry_after(fleet, partner, monkeypatch, caplog):
    from django.db import OperationalError

    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 10.0.0.5 failed: password for qg")

    monkeypatch.setattr("fleet.selectors.alarms_visible_to", unreachable)

    response = partner.get("/api/v1/alarms")

    body = problem(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) > 0
    assert "10.0.0.5" not in response.content.decode()
    assert body["detail"] == "The service is briefly unavailable. Please retry shortly."
    assert "OperationalError" in caplog.text
