"""A real scrape: gunicorn with two worker processes (PROMETHEUS_MULTIPROC_DIR), traffic from
this test, /metrics parsed with prometheus_client's own parser, and the run's logs grepped."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from core.redaction import SECRET_LIKE
from tests.conftest import require
from tests.support.worker import ROOT, database_url_for_test_db
from tokens import format as token_format

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TERMINALS = "api/v1/terminals"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Server:
    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log

    def scrape(self) -> dict[tuple[str, tuple], float]:
        status, _, body = get(self.base + "/metrics")
        assert status == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    require(connection.vendor == "postgresql", "needs PostgreSQL (shared with the server)")
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url_for_test_db(),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "DEBUG": "0",
    }
    env.pop("TEST_DATABASE_NAME", None)
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    args = [
        str(Path(sys.executable).with_name("gunicorn")),
        "portal.wsgi",
        *("--workers", "2", "--bind", f"127.0.0.1:{port}", "--no-control-socket"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while get_or_none(base + "/healthz") != 200:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
            yield Server(base, log_path)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


def total(samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


def test_counters_move_across_worker_processes_and_the_logs_hold_no_secret(
    server, issue, owner, fleet
):
    secret = issue(owner, name="scraped").secret
    before = server.scrape()

    request_ids = set()
    for _ in range(30):
        status, headers, _ = get(
            server.base + "/api/v1/terminals", {"Authorization": f"Bearer {secret}"}
        )
        assert status == 200
        request_ids.add(headers["X-Request-Id"])
    for _ in range(5):
        status, _, _ = get(
            server.base + "/api/v1/terminals",
            {"Authorization": f"Bearer {token_format.generate()}"},
        )
        assert status == 401
    status, _, _ = get(server.base + f"/api/v1/terminals?access_token={secret}")
    assert status == 400

    # Each worker's thread hands its requests over within a second; then several scrapes
    # land on either worker and each sums both workers' files.
    time.sleep(2.5)
    for _ in range(4):
        after = server.scrape()
        ok = {"route": TERMINALS, "status_class": "2xx", "token_kind": "write"}
        assert (
            total(after, "quaygate_api_requests_total", **ok)
            - total(before, "quaygate_api_requests_total", **ok)
            == 30
        )
        unknown = total(after, "quaygate_auth_failures_total", reason="unknown") - total(
            before, "quaygate_auth_failures_total", reason="unknown"
        )
        assert unknown == 5
        assert total(after, "quaygate_auth_failures_total", reason="token_in_url") >= 1
        count = total(after, "quaygate_api_request_duration_seconds_count", route=TERMINALS)
        assert (
            count - total(before, "quaygate_api_request_duration_seconds_count", route=TERMINALS)
            == 36
        )
        assert ("quaygate_outbox_oldest_age_seconds", ()) in after

    log = server.log.read_text()
    assert secret not in log
    assert not SECRET_LIKE.search(log)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    api_lines = [line for line in lines if line.get("logger") == "quaygate.api"]
    assert {line["request_id"] for line in api_lines} >= request_ids
    assert all(line["token_prefix"] for line in api_lines if line["status"] == 200)
