"""Profile one API request in-process, the way gunicorn serves it: through the WSGI handler
(request_started/finished fire, so connection health checks run as in production), with the
bench organisation's PAT. Prints the queries of one request, the CPU time per request and the
cProfile tables. Not part of `make bench`; a tool for finding where a request's time goes.

    DATABASE_URL=postgresql://…/qg_mine REDIS_URL=redis://…/2 DJANGO_SETTINGS_MODULE=bench.settings \
        .venv/bin/python scripts/profile_request.py '/api/v1/spreaders/{serial}' --requests 2000

Seeds the bench organisation (bench.generators.bench_org) into DATABASE_URL: use a database
of your own. `{serial}` is the bench spreader's serial number (the organisation has 50, a full
page of GET /api/v1/spreaders).
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("DEBUG", "0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--no-profile", action="store_true", help="only time and count queries")
    parser.add_argument(
        "--cpu", action="store_true", help="profile CPU time, not wall time (waits drop out)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench import generators, seed
    from portal.wsgi import application
    from tests.support.wsgi import call, get_environ

    bench = generators.bench_org()
    pat = seed.credentials(bench).pat
    path = args.path.format(serial=bench.spreader.serial_number)
    environ = get_environ(path, f"Bearer {pat}")
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def one() -> bytes:
        return call(application, environ, start_response)

    for _ in range(200):  # warm-up: caches, the once-a-minute touch, the usage-log thread
        one()
    if not statuses[-1].startswith("200"):
        raise SystemExit(f"{path} answered {statuses[-1]}: {one()[:300]!r}")
    with CaptureQueriesContext(connection) as queries:
        one()
    print(f"{path}: {len(queries)} queries in one request (Django's cursor wrapper only)")
    for query in queries.captured_queries:
        print("  ", query["sql"][:300])
    _timed(one, args.requests)
    if not args.no_profile:
        _profiled(one, args.requests, args.top, cpu=args.cpu)


def _timed(one, requests: int) -> None:
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(requests):
            one()
        wall = (time.perf_counter() - started) / requests * 1e6
        cpu = (time.process_time() - cpu) / requests * 1e6
        print(f"{requests} requests: {wall:.0f} µs wall, {cpu:.0f} µs CPU per request")


def _profiled(one, requests: int, top: int, *, cpu: bool) -> None:
    profile = cProfile.Profile(time.process_time) if cpu else cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        one()
    profile.disable()
    for order in ("cumulative", "tottime"):
        stats = pstats.Stats(profile).strip_dirs().sort_stats(order)
        print(f"\n--- by {order} ---")
        stats.print_stats(top)


if __name__ == "__main__":
    main()
