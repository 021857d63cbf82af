"""Log lines: JSON in production, text in the embedded default, each saying which request it
belongs to, none ever holding a token secret."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings

from core.redaction import SECRET_LIKE
from observability.logs import (
    RedactingJsonFormatter,
    RedactingTextFormatter,
    RequestContextFilter,
)
from tokens import format as token_format

pytestmark = pytest.mark.django_db


class Captured:
    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RequestContextFilter())

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]


def _capture(formatter: logging.Formatter) -> Iterator[Captured]:
    captured = Captured(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(captured.handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)
        root.setLevel(level)


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    yield from _capture(RedactingJsonFormatter("%(levelname)s %(name)s %(message)s"))


@pytest.fixture
def text_logs() -> Iterator[Captured]:
    yield from _capture(RedactingTextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))


def test_production_logs_json_and_the_embedded_default_text():
    # The test settings are the embedded default.
    assert settings.LOG_FORMAT == "text"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "text"
    assert "RedactingJsonFormatter" in settings.LOGGING["formatters"]["json"]["()"]


def test_an_api_request_logs_one_json_line_with_everything_ops_need(
    partner, issued, fleet, json_logs
):
    response = partner.get("/api/v1/terminals")

    (line,) = [line for line in json_logs.json_lines() if line["logger"] == "quaygate.api"]
    assert line["request_id"] == response["X-Request-Id"]
    assert line["organization_id"] == issued.token.organization_id
    assert line["token_prefix"] == issued.token.display_prefix
    assert line["route"] == "api/v1/terminals"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["latency_ms"] > 0
    assert line["level"] == "INFO"
    assert "time" in line


def test_a_refused_request_logs_the_prefix_it_presented(api_client, fleet, json_logs):
    secret = token_format.generate()

    api_client(secret).get("/api/v1/terminals")

    (line,) = [line for line in json_logs.json_lines() if line["logger"] == "quaygate.api"]
    assert line["status"] == 401
    assert line["token_prefix"] == token_format.display_prefix(secret)
    assert secret not in json_logs.text


def test_other_lines_during_a_request_carry_its_context(partner, issued, fleet, json_logs):
    response = partner.get("/api/v1/spreaders/NOPE-404")  # Django warns "Not Found: …"

    warning = next(line for line in json_logs.json_lines() if line["logger"] == "django.request")
    assert warning["request_id"] == response["X-Request-Id"]
    assert warning["token_prefix"] == issued.token.display_prefix


def test_the_text_format_reads_as_a_sentence_with_its_context(partner, issued, fleet, text_logs):
    response = partner.get("/api/v1/terminals")

    (line,) = [line for line in text_logs.text.splitlines() if "quaygate.api" in line]
    assert "INFO quaygate.api GET api/v1/terminals 200" in line
    assert f"req={response['X-Request-Id']}" in line
    assert f"token={issued.token.display_prefix}" in line
    assert "status=200" in line


def test_a_secret_in_a_message_its_arguments_or_a_traceback_is_redacted(json_logs):
    secret = token_format.generate()
    log = logging.getLogger("tests.observability")

    log.warning("message %s", secret)
    log.warning(f"inline {secret}")
    log.warning("extra", extra={"detail": secret})
    try:
        raise ValueError(secret)
    except ValueError:
        log.exception("failed")

    assert secret not in json_logs.text
    assert len(json_logs.json_lines()) == 4
    assert "qgp_[redacted]" in json_logs.text


def test_a_whole_run_of_requests_logs_no_secret(
    issue, owner, api_client, fleet, client, json_logs, text_logs, committed
):
    """The grep: every kind of request a secret can reach us in, then every line searched."""
    secrets = []

    def new_secret(**fields) -> str:
        secrets.append(issue(owner, **fields).secret)
        return secrets[-1]

    good = new_secret()
    api_client(good).get("/api/v1/terminals")
    api_client(good).get(f"/api/v1/spreaders/{good}")  # in the path: Django's 404 warning
    api_client(good).get("/api/v1/terminals", HTTP_USER_AGENT=f"sync {good}")
    api_client().get(f"/api/v1/terminals?access_token={new_secret()}")  # in the URL
    api_client().get(f"/api/v1/nowhere/{good}")
    limited = new_secret(rate_limit_per_hour=1)
    api_client(limited).get("/api/v1/terminals")
    api_client(limited).get("/api/v1/terminals")  # 429
    rotating = new_secret()
    with committed():
        rotated = api_client(rotating).post("/api/v1/token/rotate", {}, format="json")
    secrets.append(rotated.json()["token"])
    api_client(rotating).get("/api/v1/terminals")  # the old secret: 401
    reported = new_secret()
    with committed():
        api_client().post("/api/v1/credentials/revoke", {"credentials": [reported]}, format="json")
    api_client(reported).get("/api/v1/terminals")  # revoked
    made_up = token_format.generate()
    secrets.append(made_up)
    api_client(made_up).get("/api/v1/terminals")
    api_client(made_up[:-1] + "x").get("/api/v1/terminals")  # bad checksum
    client.get(f"/tokens/?q={good}")  # the portal

    logged = json_logs.text + text_logs.text
    assert len(logged.splitlines()) > 20
    for secret in secrets:
        assert secret not in logged
    assert not SECRET_LIKE.search(logged)
