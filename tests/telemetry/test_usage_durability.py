"""The usage log's loss bound, against a real gunicorn: a worker that exits normally (the
master stopped with SIGTERM, or recycled by --max-requests) loses no record; a worker killed
with SIGKILL loses at most the records of its last 100 ms.

Written against what a partner and an operator see (the X-Request-Id of each answer, the rows
the drain stores), not against how the request path hands records over, so the bound holds
whatever that path batches or buffers.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from telemetry.models import UsageRecord
from telemetry.usage import drain_usage_stream
from tests.conftest import require
from tests.support.worker import ROOT, database_url_for_test_db
from tokens import services
from tokens.actors import Actor

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOSS_BOUND_S = 0.100
PATH = "/api/v1/token"


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path

    def workers(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def stop(self) -> None:
        """SIGTERM to the master: gunicorn's graceful stop, every worker finishing normally."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0, self.log.read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, secret: str | None = None) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@contextmanager
def gunicorn(tmp_path: Path, stream_key: str, *args: str) -> Iterator[Server]:
    """One worker (so "the worker" is one process) on the test database, writing usage to
    this test's stream; killed and reaped if the test did not stop it."""
    require(connection.vendor == "postgresql", "needs PostgreSQL (shared with the server)")
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.support.stream_settings",
        "QUAYGATE_TEST_USAGE_STREAM_KEY": stream_key,
        "DATABASE_URL": database_url_for_test_db(),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",
    }
    env.pop("TEST_DATABASE_NAME", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "portal.wsgi",
        *("--workers", "1", "--bind", f"127.0.0.1:{port}", "--no-control-socket"),
        *("--log-level", "info"),
        *args,
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        try:
            deadline = time.monotonic() + 30
            while _status(server.base + "/healthz") != 200:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
            yield server
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _status(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


@pytest.fixture
def secret(org_admin, org) -> str:
    """An admin's token: only an admin may set a limit above the policy's default."""
    return services.issue_token(
        owner=org_admin,
        organization=org,
        name="durability",
        scopes=["fleet:read"],
        actor=Actor.system("tests"),
        rate_limit_per_hour=5_000,
    ).secret


def stored_request_ids() -> set[str]:
    """Everything the stream holds, drained into the database the way the Celery task does."""
    drain_usage_stream(consumer=f"test-{os.getpid()}", claim_idle_ms=0)
    return {
        str(request_id) for request_id in UsageRecord.objects.values_list("request_id", flat=True)
    }


def served(base: str, secret: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        status, headers = get(base + PATH, secret)
        assert status == 200
        ids.append(str(uuid.UUID(headers["X-Request-Id"])))
    return ids


def test_a_graceful_stop_loses_no_usage_record(stream, secret, tmp_path):
    with gunicorn(tmp_path, settings.QUAYGATE["USAGE_STREAM_KEY"]) as server:
        ids = served(server.base, secret, 40)
        server.stop()

    assert set(ids) <= stored_request_ids()


def test_workers_recycled_by_max_requests_lose_no_usage_record(stream, secret, tmp_path):
    key = settings.QUAYGATE["USAGE_STREAM_KEY"]
    with gunicorn(tmp_path, key, "--max-requests", "10", "--max-requests-jitter", "0") as server:
        # healthz was the first worker's first request: 45 more run through five workers.
        ids = served(server.base, secret, 45)
        server.stop()

    assert server.log.read_text().count("Booting worker") >= 5  # it did recycle
    assert set(ids) <= stored_request_ids()


def test_a_killed_worker_loses_at_most_its_last_100_ms_of_records(stream, secret, tmp_path):
    completed: list[tuple[str, float]] = []  # (request id, when its answer was read)
    stop = threading.Event()

    def traffic(base: str) -> None:
        while not stop.is_set():
            try:
                status, headers = get(base + PATH, secret)
            except OSError:
                continue  # the request the kill cut off, or one before the new worker took over
            if status == 200:
                completed.append((str(uuid.UUID(headers["X-Request-Id"])), time.monotonic()))

    with gunicorn(tmp_path, settings.QUAYGATE["USAGE_STREAM_KEY"]) as server:
        [worker] = server.workers()
        sender = threading.Thread(target=traffic, args=(server.base,))
        sender.start()
        try:
            time.sleep(1.5)
            os.kill(worker, signal.SIGKILL)
            killed = time.monotonic()  # after the kill: the strict side
            time.sleep(1.0)  # the master starts a new worker, which serves the rest
        finally:
            stop.set()
            sender.join(timeout=30)
        assert server.workers() - {worker}, "gunicorn started no new worker"
        server.stop()

    stored = stored_request_ids()
    due = {request_id for request_id, done in completed if done <= killed - LOSS_BOUND_S}
    # Served by the new worker: an answer the killed one wrote is read within the bound.
    after = {request_id for request_id, done in completed if done > killed + LOSS_BOUND_S}
    assert len(due) >= 50, "too little traffic before the kill to mean anything"
    assert after, "nothing was served after the kill"
    assert due - stored == set(), f"{len(due - stored)} records lost from before the last 100 ms"
    assert after <= stored  # the new worker's records, stored on its graceful stop
