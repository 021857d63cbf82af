"""How fast a change reaches every process: revocations and API-access changes, measured
through HTTP against two gunicorn servers of one worker each (two processes, each addressable).

The clock starts when the change commits (an on_commit callback registered before the service
runs, so it fires before the service's own invalidation does) and stops at the *start* of the
first request each process refuses. Polling starts after the commit, so a delay is never
negative; a request that starts later than the bound and is still served is the failure the
guarantee rules out, and it is counted three ways: while polling, in a few requests after the
first refusal (a process that refuses once must keep refusing), and in a sweep at the end.

Both servers run on the bench settings like the HTTP step's, but with one worker each: the
guarantee is about processes, and a server of one worker is a process we can address.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http import client as http_client
from pathlib import Path
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from bench import http
from bench.report import Row
from tokens import services
from tokens.actors import Actor

BOUND_MS = 100.0
REVOCATIONS = 500
ENTITLEMENT_CHANGES = 50
# A process that has refused once is asked this many times more: it must not serve again.
AFTER_REFUSAL = 2
# A process that still serves this long after a change has failed; stop asking.
GIVE_UP_S = 5.0
TOKEN_PATH = "/api/v1/token"  # noqa: S105 (a path, not a password)
ACTOR = Actor.cli("make bench: propagation")
PLAN_TOKENS = 10_000  # tokens.services.access.MAX_PLAN_TOKENS
PLAN_RATE = 1_000_000  # tokens.services.MAX_RATE_LIMIT


# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    started: float  # time.perf_counter() just before connecting
    status: int  # 0: no answer (connection refused or reset)
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def ask(base: str, secret: str, path: str = TOKEN_PATH) -> Answer:
    """One GET on a fresh connection: gunicorn's sync workers close every connection after
    one response, so a kept-alive client would only add a failed reuse to each request."""
    address = urlsplit(base)
    started = time.perf_counter()
    connection = http_client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {secret}"})
        response = connection.getresponse()
        body = response.read()
        return Answer(started, response.status, body, dict(response.getheaders()))
    except (OSError, http_client.HTTPException):
        return Answer(started, 0, b"")
    finally:
        connection.close()


# Every revoked token is refused a few times from this one address: the per-address limit on
# failed guesses (30 a minute) would block the bench's own warm-ups after a handful of changes.
SERVER_ENV = {"METRICS_ENABLED": "0", "API_AUTH_FAILURES_PER_IP": "1000000/m"}


@contextmanager
def servers(count: int = 2, *, name: str = "propagation") -> Iterator[list[str]]:
    """`count` gunicorn servers of one worker each, up for the block."""
    out = http.ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                http.gunicorn(
                    port=http.free_port(),
                    workers=1,
                    log_path=Path(out / f"gunicorn-{name}-{number}.log"),
                    env=SERVER_ENV,
                )
            )
            for number in range(count)
        ]


# --- setup ------------------------------------------------------------------------------------


def bench_org(slug: str) -> tuple[Organization, User]:
    """An organisation of its own (a change to its access touches only its tokens), with room
    for every token the step issues and no plan ceiling below their limits."""
    with transaction.atomic():
        org, _ = Organization.objects.get_or_create(
            slug=slug, defaults={"name": slug.replace("-", " ").title(), "api_access": "production"}
        )
        Organization.objects.filter(pk=org.pk).update(
            api_access="production",
            plan_rate_limit_per_hour=PLAN_RATE,
            plan_max_active_tokens=PLAN_TOKENS,
        )
        org.refresh_from_db()
        admin, created = User.objects.get_or_create(
            email=f"{slug}-admin@bench.example", defaults={"full_name": "Bench Admin"}
        )
        if created:
            admin.set_unusable_password()
            admin.save(update_fields=["password"])
        Membership.objects.get_or_create(
            user=admin, organization=org, defaults={"role": Membership.Role.ADMIN}
        )
    return org, admin


def issue_tokens(
    org: Organization, admin: User, count: int, *, rate_limit_per_hour: int = PLAN_RATE
) -> list[services.IssuedToken]:
    """`count` tokens through the real service (audit event, owner's email and all)."""
    stamp = f"{timezone.now():%Y%m%d%H%M%S%f}"
    return [
        services.issue_token(
            owner=admin,
            organization=org,
            name=f"propagation {stamp} {number}",
            scopes=["fleet:read"],
            actor=ACTOR,
            rate_limit_per_hour=rate_limit_per_hour,
        )
        for number in range(count)
    ]


# --- one change, watched on every process ------------------------------------------------------


@dataclass
class Watch:
    """What one process answered after one change."""

    delay_ms: float | None = None  # start of the first refused request minus commit; None: never
    served_late: int = 0  # served although it started after commit + bound
    served_after_refusal: int = 0
    # Refused at the very first request: the delay is then only the poll's own latency.
    refused_at_once: bool = False
    unexpected: int = 0  # neither the refusal nor 200 (5xx, no answer, …)
    requests: int = 0


def watch(
    base: str, secret: str, t0: float, refused: Callable[[Answer], bool], *, bound_s: float
) -> Watch:
    result = Watch()
    refusals = 0
    while refusals <= AFTER_REFUSAL:
        answer = ask(base, secret)
        result.requests += 1
        since = answer.started - t0
        if refused(answer):
            if result.delay_ms is None:
                result.delay_ms = since * 1000
                result.refused_at_once = result.requests == 1
            refusals += 1
        elif answer.status == 200:
            result.served_late += since > bound_s
            result.served_after_refusal += result.delay_ms is not None
        else:
            result.unexpected += 1
        if since > GIVE_UP_S:
            break
    return result


def change_and_watch(
    pool: ThreadPoolExecutor,
    bases: list[str],
    secret: str,
    change: Callable[[], object],
    refused: Callable[[Answer], bool],
) -> list[Watch] | None:
    """Warm every process (a 200 each, so each holds the token's state), commit `change`,
    then poll every process at once. None when a process did not serve the warm-up."""
    if any(ask(base, secret).status != 200 for base in bases):
        return None
    committed: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs before the service's own on_commit invalidation.
        transaction.on_commit(lambda: committed.append(time.perf_counter()))
        change()
    t0 = committed[0]
    futures = [
        pool.submit(watch, base, secret, t0, refused, bound_s=BOUND_MS / 1000) for base in bases
    ]
    return [future.result() for future in futures]


# --- the step ---------------------------------------------------------------------------------


@dataclass
class Series:
    """Every process's watch over a series of changes of one kind."""

    label: str
    watches: list[Watch] = field(default_factory=list)
    not_warm: int = 0
    swept_served: int = 0  # served in the final sweep, long after the change
    swept: int = 0

    @property
    def delays(self) -> list[float]:
        return [w.delay_ms for w in self.watches if w.delay_ms is not None]

    @property
    def never_refused(self) -> int:
        return sum(w.delay_ms is None for w in self.watches)

    @property
    def served_late(self) -> int:
        return sum(w.served_late + w.served_after_refusal for w in self.watches) + self.swept_served

    @property
    def unexpected(self) -> int:
        return sum(w.unexpected for w in self.watches)


def _revoked(answer: Answer) -> bool:
    return answer.status == 401


def _access_refused(answer: Answer) -> bool:
    return answer.status == 403 and b"api_access_not_enabled" in answer.body


def revocations(pool, bases: list[str], count: int, say) -> Series:
    org, admin = bench_org("bench-revocations")
    say(f"Propagation: issuing {count} tokens")
    issued = issue_tokens(org, admin, count)
    say(f"Propagation: {count} revocations, each watched on {len(bases)} processes")
    started = time.monotonic()
    series = Series("revocation → 401")
    for item in issued:
        watches = change_and_watch(
            pool,
            bases,
            item.secret,
            lambda token=item.token: services.revoke_token(token, actor=ACTOR, reason="bench"),
            _revoked,
        )
        if watches is None:
            series.not_warm += 1
        else:
            series.watches += watches
    # Long after every change: no process may serve any of them.
    for base in bases:
        for item in issued:
            series.swept += 1
            series.swept_served += ask(base, item.secret).status == 200
    say(f"Propagation: revocations watched and swept in {time.monotonic() - started:.0f} s")
    return series


def entitlement_changes(pool, bases: list[str], count: int, say) -> Series:
    """The organisation's API access set to none and back, `count` times; only the way down is
    timed (the way up must be seen too, or the next warm-up fails and is counted)."""
    org, admin = bench_org("bench-entitlement")
    [item] = issue_tokens(org, admin, 1)
    say(f"Propagation: {count} API-access changes to none, watched on {len(bases)} processes")
    series = Series("API access none → 403")
    for _ in range(count):
        watches = change_and_watch(
            pool,
            bases,
            item.secret,
            lambda: services.set_api_access(org, level="none", actor=ACTOR, reason="bench"),
            _access_refused,
        )
        if watches is None:
            series.not_warm += 1
        else:
            series.watches += watches
        services.set_api_access(org, level="production", actor=ACTOR, reason="bench")
        _wait_until_served(bases, item.secret)
    services.set_api_access(org, level="none", actor=ACTOR, reason="bench: sweep")
    time.sleep(BOUND_MS / 1000)
    for base in bases:
        series.swept += 1
        series.swept_served += ask(base, item.secret).status == 200
    return series


def _wait_until_served(bases: list[str], secret: str) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        if all(ask(base, secret).status == 200 for base in bases):
            return
        time.sleep(0.001)


def _delay_text(series: Series) -> str:
    delays = sorted(series.delays)
    if not delays:
        return "no refusal seen"
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    text = (
        f"max {delays[-1]:.1f} ms · p99 {p99:.1f} ms · median {statistics.median(delays):.1f} ms "
        f"over {len(delays)} process-changes, "
        f"{sum(w.refused_at_once for w in series.watches)} refused at the first request"
    )
    if series.never_refused:
        text += f"; {series.never_refused} never refused within {GIVE_UP_S:g} s"
    if series.not_warm:
        text += f"; {series.not_warm} changes skipped (warm-up not served)"
    if series.unexpected:
        text += f"; {series.unexpected} answers neither 200 nor the refusal"
    return text


def _delay_row(series: Series, changes: int, processes: int) -> Row:
    delays = series.delays
    passed = (
        bool(delays)
        and max(delays) < BOUND_MS
        and not series.never_refused
        and not series.not_warm
        and not series.unexpected
    )
    return Row(
        f"{series.label}: first refusal on each of {processes} processes ({changes} changes)",
        f"max < {BOUND_MS:.0f} ms",
        _delay_text(series),
        passed,
    )


def rows(*, say, revocation_count: int = REVOCATIONS, entitlement_count: int = ENTITLEMENT_CHANGES):
    """The step's rows: the delay of each kind of change, and the requests served too late."""
    with servers(2) as bases, ThreadPoolExecutor(max_workers=len(bases)) as pool:
        revoked = revocations(pool, bases, revocation_count, say)
        access = entitlement_changes(pool, bases, entitlement_count, say)
    late = revoked.served_late + access.served_late
    polled = sum(w.requests for s in (revoked, access) for w in s.watches)
    swept = revoked.swept + access.swept
    return [
        _delay_row(revoked, revocation_count, len(bases)),
        _delay_row(access, entitlement_count, len(bases)),
        Row(
            f"served although started > {BOUND_MS:.0f} ms after a revocation or access change",
            "0 requests",
            f"{late} (revocation {revoked.served_late}, access {access.served_late}; of "
            f"{polled:,} polls and {swept:,} requests in a final sweep)",
            late == 0,
        ),
    ]
