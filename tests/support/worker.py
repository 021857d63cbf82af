"""Start a real Celery worker process against the test database and Redis."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_test_db() -> str:
    """The DATABASE_URL of the database the tests run on (pytest-django's test_… database)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def celery_worker(
    *, extra_env: dict[str, str] | None = None, include: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen]:
    """A worker process (solo pool) on the test database; stopped and reaped on exit."""
    env = (
        os.environ
        | {"DATABASE_URL": database_url_for_test_db(), "PYTHONUNBUFFERED": "1"}
        | (extra_env or {})
    )
    env.pop("TEST_DATABASE_NAME", None)
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
    ]
    args += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    if include:
        args += ["--include", ",".join(include)]
    log = (ROOT / "var" / f"test-worker-{os.getpid()}.log").open("w")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
