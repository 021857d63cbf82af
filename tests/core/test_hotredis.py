"""core.hotredis: the listener that tells each process what changed, against a real Redis.

What must hold: a change of a tracked key by any client reaches the handler at the next poll;
memory is trusted only once a PING has come back, and stops being trusted when the process
has not heard from Redis for TRUST_SECONDS; a lost connection resets memory and is replaced;
a forked child never reads its parent's socket; no Redis is an answer (False), not an error.
"""

import os
import time
from collections.abc import Iterator

import pytest
from django.conf import settings

from core import hotredis
from tests.conftest import kill_connections_to_this_db

PREFIX = f"test:hotredis:{os.getpid()}:"
seen: list[bytes] = []
resets: list[bool] = []
hotredis.track(PREFIX, seen.extend, on_reset=lambda: resets.append(True))


@pytest.fixture
def url(redis_client) -> Iterator[str]:
    url = settings.REDIS_URL
    hotredis.reset()
    seen.clear()
    resets.clear()
    yield url
    hotredis.reset()
    for key in redis_client.scan_iter(PREFIX + "*"):
        redis_client.delete(key)


def trusted(url: str, timeout: float = 2.0) -> bool:
    """Poll until the listener trusts memory (its PING came back) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hotredis.poll(url):
            return True
        time.sleep(0.002)
    return False


def polled_until(url: str, condition, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hotredis.poll(url)
        if condition():
            return True
        time.sleep(0.002)
    return False


def test_memory_is_trusted_only_once_the_first_ping_came_back(url, monkeypatch):
    # Hold back the answer: on loopback the PONG can arrive before the first poll reads its
    # socket (CI saw it), and then that poll rightly trusts memory.
    read = hotredis._Listener._read
    monkeypatch.setattr(hotredis._Listener, "_read", lambda listener: None)
    assert hotredis.poll(url) is False  # connected, PING sent, its answer not read yet
    assert resets  # a new connection starts from empty memory
    monkeypatch.setattr(hotredis._Listener, "_read", read)
    assert trusted(url)


def test_a_change_by_any_client_reaches_the_handler_at_the_next_poll(url, redis_client):
    assert trusted(url)
    redis_client.set(PREFIX + "a", "1")
    redis_client.delete(PREFIX + "a")
    redis_client.set("test:untracked", "1")
    assert polled_until(url, lambda: seen.count((PREFIX + "a").encode()) == 2)
    assert all(key.startswith(PREFIX.encode()) for key in seen)
    redis_client.delete("test:untracked")


def test_an_expired_key_is_a_change_too(url, redis_client):
    assert trusted(url)
    redis_client.set(PREFIX + "short", "1", px=50)
    time.sleep(0.15)
    redis_client.get(PREFIX + "short")  # expired keys are found on access or by the sweep
    assert polled_until(url, lambda: (PREFIX + "short").encode() in seen)


def test_a_process_that_heard_nothing_for_a_while_stops_trusting_until_redis_answers(
    url, monkeypatch
):
    monkeypatch.setattr(hotredis, "TRUST_SECONDS", 0.2)
    assert trusted(url)
    time.sleep(0.3)  # idle: a connection broken silently meanwhile would not have said so
    assert hotredis.poll(url) is False  # …so this request asks Redis, and a PING goes out
    assert trusted(url)


def test_a_lost_connection_resets_memory_and_is_replaced(url, redis_client, monkeypatch):
    monkeypatch.setattr(hotredis, "RETRY_AFTER_SECONDS", 0.0)
    assert trusted(url)
    resets.clear()
    kill_connections_to_this_db(redis_client, "pubsub")  # a Redis restart, a proxy
    assert polled_until(url, lambda: bool(resets))
    assert trusted(url)  # a new listener, trusted once its own PING came back
    redis_client.set(PREFIX + "after", "1")
    assert polled_until(url, lambda: (PREFIX + "after").encode() in seen)


def test_no_redis_is_never_trusted_and_never_raises():
    assert hotredis.poll("redis://127.0.0.1:1/0") is False
    assert hotredis.poll("redis://127.0.0.1:1/0") is False  # not even retried for a while
    hotredis.reset()


def test_a_forked_child_listens_on_its_own_connection(url, redis_client):
    assert trusted(url)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's listener is gone, its own works
        try:
            ok = hotredis.epoch(url) == -1 and trusted(url)
            redis_client.set(PREFIX + "child", "1")
            ok = ok and polled_until(url, lambda: (PREFIX + "child").encode() in seen)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    # The parent's own connection still works, and saw the child's write as well.
    assert polled_until(url, lambda: (PREFIX + "child").encode() in seen)
