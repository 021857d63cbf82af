"""Rate limits stay honest across processes: one token limited to N an hour, two servers of
one worker each hammered at once, well past N; every answer counted by the client.

Threads rather than wrk: a thread finishes the request it started, so every request a server
answered is counted (wrk drops what is in flight when its time is up, and a request accepted
but never read is still one the limit let through). Accepted answers are grouped by their
X-RateLimit-Reset, the window they were counted in, so a run that crosses the hour is judged
per window rather than against twice the limit; the run also waits out a window about to end.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.propagation import ask, bench_org, issue_tokens, servers
from bench.report import Row

LIMIT = 2000
# Requests sent in all: well past the limit, so both processes meet it while the other works.
SENT_FACTOR = 2.5
THREADS_PER_SERVER = 3
# A window with less left than this is waited out (a run takes a few seconds).
WINDOW_MARGIN_S = 30
# Far below the limit is wrong too (leases stranded in a process that stopped asking).
LOWEST_SHARE = 0.9


def allowance(limit: int) -> int:
    """The most a limit of `limit` may accept across processes: the issue's N + max(1%, 10)."""
    return limit + max(limit // 100, 10)


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    accepted_by_window: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, headers: dict[str, str]) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status == 200:
                self.accepted_by_window[headers.get("X-RateLimit-Reset", "?")] += 1

    @property
    def accepted(self) -> int:
        """Accepted in the fullest window: what the limit is judged on."""
        return max(self.accepted_by_window.values(), default=0)


def _wait_for_a_fresh_window(base: str, secret: str, tally: Tally, say) -> None:
    answer = ask(base, secret)
    tally.add(answer.status, answer.headers)
    reset = int(answer.headers.get("X-RateLimit-Reset", 0))
    left = reset - time.time()
    if 0 < left < WINDOW_MARGIN_S:
        say(f"Rate limits: the hour's window ends in {left:.0f} s; waiting for the next one")
        time.sleep(left + 1)


def hammer(bases: list[str], secret: str, *, total: int, tally: Tally) -> float:
    """`total` requests over every server at once; the seconds it took."""
    remaining = [total]
    lock = threading.Lock()

    def work(base: str) -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            answer = ask(base, secret)
            tally.add(answer.status, answer.headers)

    threads = [
        threading.Thread(target=work, args=(base,), daemon=True)
        for base in bases
        for _ in range(THREADS_PER_SERVER)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def rows(*, say, limit: int = LIMIT) -> list[Row]:
    org, admin = bench_org("bench-rate-limits")
    [item] = issue_tokens(org, admin, 1, rate_limit_per_hour=limit)
    total = int(limit * SENT_FACTOR)
    tally = Tally()
    with servers(2, name="rate-limits") as bases:
        _wait_for_a_fresh_window(bases[0], item.secret, tally, say)
        say(f"Rate limits: {total:,} requests at a token limited to {limit:,}/h on 2 processes")
        seconds = hammer(bases, item.secret, total=total, tally=tally)
    accepted, most = tally.accepted, allowance(limit)
    others = {s: n for s, n in tally.statuses.items() if s not in (200, 429)}
    measured = (
        f"{accepted:,} accepted of {sum(tally.statuses.values()):,} sent in {seconds:.1f} s "
        f"({accepted / limit:.3f}x N); {tally.statuses[429]:,} answered 429"
    )
    if len(tally.accepted_by_window) > 1:
        measured += f"; windows {dict(tally.accepted_by_window)}"
    if others:
        measured += f"; other answers {others}"
    return [
        Row(
            f"rate limit N = {limit:,}/h across 2 processes",
            f"{LOWEST_SHARE:.0%} N ≤ accepted ≤ {most:,}",
            measured,
            LOWEST_SHARE * limit <= accepted <= most and not others,
        )
    ]
