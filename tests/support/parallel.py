"""A pytest plugin for `make test`'s parallel run (pytest-xdist): each worker its own Redis db.

pytest-django already gives each worker its own test database (`test_…_gw0`, `test_…_gw1`).
Redis has no such suffix, and two workers on one Redis db would drain each other's usage
stream, share token states and Celery queues. So worker N moves REDIS_URL's db number up by N
(wrapping at Redis's 16 dbs): with REDIS_URL=redis://…/14, gw0 uses db 14 and gw1 db 15.

It must run before Django reads its settings, which pytest-django does before any conftest
loads: hence a plugin given with `-p tests.support.parallel` (it is imported while pytest
parses its arguments; xdist has set PYTEST_XDIST_WORKER by then). The environment, not
`settings`, is changed, so the servers and workers the tests start inherit the same db.
"""

import os
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16


def worker_redis_url(url: str, worker: str) -> str:
    """`url` with its db number moved up by the worker's index (gw0 keeps it)."""
    index = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + index) % REDIS_DATABASES}"))


def _isolate_worker() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("REDIS_URL")
    if not worker or not url or os.environ.get("QUAYGATE_TEST_WORKER") == worker:
        return
    os.environ["REDIS_URL"] = worker_redis_url(url, worker)
    os.environ["QUAYGATE_TEST_WORKER"] = worker  # once: a process started by a test inherits it


_isolate_worker()
