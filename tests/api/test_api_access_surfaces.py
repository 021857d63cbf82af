"""Issue 15: what the API says about access levels — the 403 tells what to do, the OpenAPI
document lists the code, and the plan's ceiling shows in the rate-limit headers."""

import pytest
from django.test import override_settings

from api.problems import PROBLEM_TYPES
from tokens import services
from tokens.actors import Actor

pytestmark = pytest.mark.django_db


@override_settings(SITE_URL="https://quaygate.example")
def test_the_403_says_where_to_request_production(issue, owner, org, api_client):
    issued = issue(owner)
    services.set_api_access(org, level="sandbox", actor=Actor.cli("ops"), reason="trial")
    response = api_client(issued.secret).get("/api/v1/token")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "api_access_not_enabled"
    assert body["title"] == "API access not enabled"
    assert "Request production access" in body["detail"]
    assert f"https://quaygate.example/orgs/{org.slug}/api-access/" in body["detail"]
    assert "qgs_" in body["detail"]


def test_the_openapi_document_lists_the_code(client):
    assert PROBLEM_TYPES["api_access_not_enabled"].status == 403
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"api_access_not_enabled" in response.content


def test_the_getting_started_errors_table_explains_the_code(client):
    page = client.get("/api/getting-started/").content.decode()
    assert 'id="problem-api_access_not_enabled"' in page
