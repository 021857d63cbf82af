"""The OpenAPI schema validates with no warnings; the docs pages load nothing from elsewhere."""

import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

URL_PATTERN = re.compile(r"https?://[^\s\"'<>)]+")
OUR_HOST = "http://testserver"


def external_urls(html: str) -> list[str]:
    return [url for url in URL_PATTERN.findall(html) if not url.startswith(OUR_HOST)]


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    with django_db_blocker.unblock():
        # --fail-on-warn: a warning (an undocumented field, a name clash) fails the test.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


V1_OPERATIONS = {
    ("/api/v1/terminals", "get"): ["fleet:read"],
    ("/api/v1/spreaders", "get"): ["fleet:read"],
    ("/api/v1/spreaders/{serial}", "get"): ["fleet:read"],
    ("/api/v1/spreaders/{serial}/telemetry", "get"): ["telemetry:read"],
    ("/api/v1/spreaders/{serial}/maintenance", "post"): ["maintenance:write"],
    ("/api/v1/alarms", "get"): ["alarms:read"],
    ("/api/v1/alarms/{alarm_id}/acknowledge", "post"): ["alarms:write"],
    ("/api/v1/maintenance", "get"): ["maintenance:read"],
    ("/api/v1/audit-events", "get"): ["audit:read"],
    ("/api/v1/sandbox/reset", "post"): ["maintenance:write"],
    ("/api/v1/token", "get"): [],
    ("/api/v1/token", "delete"): [],
    ("/api/v1/token/rotate", "post"): [],
    ("/api/v1/credentials/revoke", "post"): [],
    ("/api/v1/secret-scanning/github", "post"): [],
    ("/api/v1/changelog", "get"): [],
}
# No token: anyone may report a leak; GitHub signs its alerts instead; the changelog is public
# (as Stripe's is), so a partner can read what changes before they have a token.
UNAUTHENTICATED = {
    "/api/v1/credentials/revoke",
    "/api/v1/secret-scanning/github",
    "/api/v1/changelog",
}


def test_the_schema_documents_every_operation_and_its_scope(schema):
    documented = {
        (path, method): operation["x-required-scopes"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }

    assert documented == V1_OPERATIONS
    for (path, method), scopes in V1_OPERATIONS.items():
        operation = schema["paths"][path][method]
        assert "Required scope" in operation["description"] or path in UNAUTHENTICATED
        for scope in scopes:
            assert f"`{scope}`" in operation["description"]


def test_every_operation_documents_its_errors_as_problems(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            errors = {code for code in operation["responses"] if code.startswith(("4", "5"))}
            assert "429" in errors, (path, method)
            for code in errors:
                content = operation["responses"][code]["content"]
                assert list(content) == ["application/problem+json"], (path, method, code)
            if path not in UNAUTHENTICATED:
                assert "401" in errors
                assert operation["security"] == [{"personalAccessToken": []}]
            else:
                assert "security" not in operation


def test_the_bearer_scheme_is_documented(schema):
    scheme = schema["components"]["securitySchemes"]["personalAccessToken"]

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_lists_document_their_pagination(schema):
    for path in ["/api/v1/terminals", "/api/v1/spreaders", "/api/v1/alarms", "/api/v1/maintenance"]:
        operation = schema["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "limit"} <= names
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert {"next", "previous", "results"} == set(component["properties"])


def test_the_schema_is_served(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/spreaders" in response.content


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/api/getting-started/"])
def test_docs_pages_load_nothing_from_elsewhere(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert external_urls(html) == []
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith(("/", "#")), src
    assert "<script>" not in html  # no inline script: the site's CSP would block it


def test_swagger_ui_is_from_the_sidecar_and_its_init_script_is_a_file(client):
    html = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assert external_urls(script.content.decode()) == []


def test_redoc_is_from_the_sidecar_and_may_style_itself(client):
    response = client.get("/api/redoc/")

    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in (
        response.content.decode()
    )
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" in policy.split("style-src", 1)[1].split(";")[0]
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]


def test_the_site_policy_stays_strict_on_swagger_ui(client):
    policy = client.get("/api/docs/")["Content-Security-Policy"]

    assert "unsafe-inline" not in policy


def test_static_assets_of_the_docs_are_served(client):
    html = client.get("/api/docs/").content.decode() + client.get("/api/redoc/").content.decode()
    assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))

    assert len(assets) >= 4
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset


def test_getting_started_covers_what_a_partner_needs(client):
    html = client.get("/api/getting-started/").content.decode()

    for section in [
        "create-a-token",
        "first-call",
        "pagination",
        "errors",
        "rate-limits",
        "rotation",
        "keeping-safe",
        "deprecation",
    ]:
        assert f'id="{section}"' in html
    assert 'curl -sS -H "Authorization: Bearer $QUAYGATE_TOKEN"' in html
    assert "import requests" in html
    # Every problem type's `type` URI lands on its row of the errors table.
    assert 'id="problem-validation_error"' in html
    assert 'id="problem-rate_limited"' in html


IDEMPOTENT_WRITES = [
    ("/api/v1/spreaders/{serial}/maintenance", True),
    ("/api/v1/alarms/{alarm_id}/acknowledge", True),
    ("/api/v1/token/rotate", False),
]


@pytest.mark.parametrize(("path", "replayable"), IDEMPOTENT_WRITES)
def test_the_writes_document_the_idempotency_key(schema, path, replayable):
    operation = schema["paths"][path]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]

    assert header["in"] == "header"
    assert header.get("required", False) is False
    assert header["schema"]["maxLength"] == 255
    assert {"409", "422"} <= set(operation["responses"])
    success = next(code for code in operation["responses"] if code.startswith("2"))
    replay_header = operation["responses"][success].get("headers", {}).get("Idempotent-Replayed")
    assert (replay_header is not None) == replayable
    if not replayable:
        assert "idempotency_key_used" in operation["responses"]["409"]["description"]


def test_the_getting_started_page_explains_idempotency_keys(client):
    html = client.get("/api/getting-started/").content.decode()

    assert 'id="idempotency"' in html
    assert "Idempotency-Key" in html
    assert "Idempotent-Replayed: true" in html
    for code in ["idempotency_key_reused", "idempotency_key_in_use", "idempotency_key_used"]:
        assert f'id="problem-{code}"' in html


def test_the_telemetry_time_zone_is_documented(schema, client):
    operation = schema["paths"]["/api/v1/spreaders/{serial}/telemetry"]["get"]
    (tz,) = [p for p in operation["parameters"] if p["name"] == "tz"]

    assert "Europe/Amsterdam" in tz["description"]
    assert "local midnight" in operation["description"]
    assert "tz=terminal" in client.get("/api/getting-started/").content.decode()
