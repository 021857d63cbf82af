"""POST /credentials/revoke: no authentication, always the same 202, valid tokens revoked and
their owners told, bounded and limited per address."""

import json

import pytest

from notifications.models import Notification
from tokens.models import PersonalAccessToken

pytestmark = pytest.mark.django_db

URL = "/api/v1/credentials/revoke"


def report(client, credentials, **extra):
    return client.post(URL, {"credentials": credentials}, format="json", **extra)


def test_a_reported_token_is_revoked_and_its_owner_told(issued, api_client):
    response = report(api_client(), [issued.secret])

    assert response.status_code == 202
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revoked_at is not None
    assert token.revoked_by_kind == PersonalAccessToken.RevokedBy.LEAK_REPORT
    assert Notification.objects.filter(
        kind=Notification.Kind.TOKEN_LEAKED, user=token.owner
    ).exists()
    assert api_client(issued.secret).get("/api/v1/token").status_code == 401


def test_the_answer_is_the_same_whatever_the_report_held(issue, owner, api_client):
    real = issue(owner, name="real")
    answers = [
        report(api_client(), ["qgp_" + "A" * 36]),
        report(api_client(), ["not a token at all"]),
        report(api_client(), [real.secret, "garbage"]),
        report(api_client(), [real.secret]),  # already revoked now
    ]

    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert {a.get("Content-Length") for a in answers} == {answers[0].get("Content-Length")}
    for answer in answers:
        assert "X-RateLimit-Remaining" not in answer


def test_an_authorization_header_is_ignored(issued, api_client):
    response = report(api_client("qgp_garbage"), [issued.secret])

    assert response.status_code == 202


def test_a_rotated_out_secret_that_no_longer_works_leaves_the_token_alone(
    issued, partner, api_client
):
    new_secret = partner.post("/api/v1/token/rotate", {}, format="json").json()["token"]

    assert report(api_client(), [issued.secret]).status_code == 202

    assert api_client(new_secret).get("/api/v1/token").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"credentials": []},
        {"credentials": ["qgp_x"] * 101},
        {"credentials": "qgp_x"},
        {"credentials": [{"token": "qgp_x"}]},
        {"credentials": ["x" * 201]},
        {"credentials": ["qgp_x"], "note": "found on a paste site"},
        {},
        [],
    ],
)
def test_a_malformed_report_is_a_400(api_client, body):
    response = api_client().post(URL, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_huge_report_is_a_413(api_client):
    body = json.dumps({"credentials": ["x" * 200] * 400})

    response = api_client().post(URL, body, content_type="application/json")

    assert response.status_code == 413


def test_reports_are_limited_per_address(settings, api_client):
    settings.QUAYGATE = {**settings.QUAYGATE, "API_LEAK_REPORTS_PER_IP": "2/m"}
    for _ in range(2):
        assert report(api_client(), ["garbage"]).status_code == 202

    refused = report(api_client(), ["garbage"])
    elsewhere = report(api_client(), ["garbage"], REMOTE_ADDR="198.51.100.9")

    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert int(refused["Retry-After"]) >= 1
    assert elsewhere.status_code == 202
