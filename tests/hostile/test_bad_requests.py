"""Bad bodies and headers on every operation that takes a body: each is a 4xx problem.

(tests/api/test_errors.py pins the exact answer for one endpoint each; here every write
operation gets every hostile input, so a new endpoint cannot forget one.)
"""

import json

import pytest
from rest_framework.test import APIClient

from tests.hostile.conftest import assert_problem

TEN_MB = 10 * 1024 * 1024


def write_operations(fleet) -> dict[str, str]:
    return {
        "acknowledge": f"/api/v1/alarms/{fleet.alarm.id}/acknowledge",
        "maintenance": f"/api/v1/spreaders/{fleet.spreader.serial_number}/maintenance",
        "rotate": "/api/v1/token/rotate",
        "leak report": "/api/v1/credentials/revoke",
    }


# The operations that read a body. Acknowledging an alarm takes none: see the test below.
OPERATIONS = ["maintenance", "rotate", "leak report"]
BAD_BODIES = {
    "truncated JSON": (b'{"kind": "repair", "description": ', "application/json", 400),
    "not JSON at all": (b"kind=repair&description=x", "application/json", 400),
    "NUL bytes before the JSON": (b"\x00\x00\x00{}", "application/json", 400),
    "NUL inside a JSON string": (
        json.dumps(
            {
                "performed_at": "2026-01-01T00:00:00Z",
                "kind": "repair",
                "description": "fixed\u0000it",
                "credentials": ["qgp_\u0000"],
                "overlap_hours": 0,
                "note": "a\u0000b",
            }
        ).encode(),
        "application/json",
        400,
    ),
    "a JSON array": (b"[1, 2, 3]", "application/json", 400),
    "a JSON string": (b'"hello"', "application/json", 400),
    "invalid UTF-8": (b'{"description": "\xff\xfe"}', "application/json", 400),
    "form-encoded": (b"kind=repair", "application/x-www-form-urlencoded", 415),
    "plain text": (b'{"kind": "repair"}', "text/plain", 415),
    "XML": (b"<maintenance/>", "application/xml", 415),
    "10 MB of JSON": (
        b'{"description": "' + b"a" * TEN_MB + b'"}',
        "application/json",
        413,
    ),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_bad_body_is_a_4xx_problem_on_every_write_operation(fleet, partner, operation, case):
    body, content_type, expected = BAD_BODIES[case]
    path = write_operations(fleet)[operation]
    response = partner.generic("POST", path, body, content_type=content_type)
    assert_problem(response, expected)


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_an_operation_without_a_body_ignores_a_hostile_one(fleet, partner, case):
    body, content_type, _ = BAD_BODIES[case]
    path = write_operations(fleet)["acknowledge"]
    response = partner.generic("POST", path, body, content_type=content_type)
    # Never read, so never parsed: the alarm is acknowledged as if the body were empty.
    assert response.status_code == 200, response.content[:300]
    fleet.alarm.refresh_from_db()
    assert fleet.alarm.acknowledged_at is not None


def test_a_post_to_an_unknown_api_path_is_a_404_problem_not_a_csrf_page(fleet, new_secret):
    # Like any real client: no CSRF cookie. An id the route cannot match falls to the
    # catch-all, which must answer 404 in problem+json, not CSRF's 403 HTML page.
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_secret()}")
    response = client.post("/api/v1/alarms/not-an-id/acknowledge", {}, format="json")
    assert_problem(response, 404)


# --- headers ------------------------------------------------------------------------------------


def test_a_megabyte_long_authorization_header_is_a_401_problem(fleet, api_client_for):
    response = api_client_for("Bearer qgp_" + "A" * 1024 * 1024).get("/api/v1/token")
    assert assert_problem(response, 401)["code"] == "invalid_token"


def test_a_long_user_agent_does_not_break_a_valid_request(fleet, partner):
    response = partner.get("/api/v1/terminals", HTTP_USER_AGENT="x" * 256 * 1024)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {secret}, Bearer {secret}",  # the same header twice, joined as proxies do
        "Bearer {secret},Bearer {other}",
        "Bearer {other}, Bearer {secret}",
        "Bearer {secret} {secret}",
    ],
)
def test_a_duplicated_authorization_header_is_refused(fleet, new_secret, api_client_for, header):
    value = header.format(secret=new_secret(), other=new_secret())
    response = api_client_for(value).get("/api/v1/token")
    assert assert_problem(response, 401)["code"] == "invalid_token"


@pytest.mark.parametrize(
    "value",
    [
        "Bearer {secret}\x00",
        "Bearer \x00{secret}",
        "Bearer {secret}\r\nX-Injected: 1",
        "Bearer {secret}\u00e9",
        "Bearer\t{secret}",
        "Basic {secret}",
    ],
)
def test_a_valid_token_wrapped_in_garbage_is_refused(fleet, new_secret, api_client_for, value):
    response = api_client_for(value.format(secret=new_secret())).get("/api/v1/token")
    assert_problem(response, 401)


def test_a_nul_in_a_path_is_a_404_problem(fleet, partner):
    response = partner.get(f"/api/v1/spreaders/{fleet.spreader.serial_number}%00")
    assert_problem(response, 404)


def test_a_nul_in_a_query_parameter_is_a_400_problem(fleet, partner):
    response = partner.get("/api/v1/alarms", {"severity": "warning\x00"})
    assert_problem(response, 400)


@pytest.fixture
def api_client_for():
    def _client(authorization: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=authorization)
        return client

    return _client
