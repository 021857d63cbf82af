"""core.hotredis: the API's one-round-trip Redis connection, against a real Redis.

What must hold: replies come back in order; a command sent without waiting has its reply read by
the next round trip; a refused or lost command reaches its fallback (nothing is silently
dropped); a broken connection is never reused; a forked child never uses its parent's socket.
"""

import gc
import os
import threading
from collections.abc import Iterator

import pytest
import redis as redis_lib
from django.conf import settings

from core import hotredis

KEY = f"test:hotredis:{os.getpid()}"


@pytest.fixture
def url(redis_client) -> Iterator[str]:
    url = settings.REDIS_URL
    hotredis.reset()
    yield url
    hotredis.reset()
    redis_client.delete(KEY, KEY + ":string", KEY + ":stream")


def my_client_id(url: str) -> int:
    [client_id] = hotredis.execute(url, [("CLIENT", "ID")])
    return client_id


def test_replies_come_back_in_order_over_one_kept_connection(url, redis_client):
    first = hotredis.execute(url, [("SET", KEY, "a"), ("GET", KEY), ("INCR", KEY + "n")])
    assert first == [b"OK", b"a", 1]
    assert my_client_id(url) == my_client_id(url)  # the same connection, not a pool's
    redis_client.delete(KEY + "n")


def test_a_sent_command_runs_at_once_and_its_reply_is_read_by_the_next_round_trip(
    url, redis_client
):
    failures = []
    hotredis.send(url, ("XADD", KEY + ":stream", "*", "v", "1"), on_failure=failures.append)
    # The next round trip reads the owed reply first, so its own replies are its own.
    assert hotredis.execute(url, [("ECHO", "mine")]) == [b"mine"]
    assert redis_client.xlen(KEY + ":stream") == 1
    assert failures == []


def test_a_refused_command_reaches_its_fallback_and_the_connection_stays_usable(url, redis_client):
    redis_client.set(KEY + ":string", "not a stream")
    failures = []
    hotredis.send(url, ("XADD", KEY + ":string", "*", "v", "1"), on_failure=failures.append)
    before = my_client_id(url)  # reads the refusal on the way
    assert len(failures) == 1
    assert isinstance(failures[0], redis_lib.ResponseError)
    assert "WRONGTYPE" in str(failures[0])
    assert my_client_id(url) == before  # still in step: the same connection goes on


def test_an_error_reply_in_a_round_trip_raises_and_the_connection_is_not_reused(url, redis_client):
    redis_client.set(KEY + ":string", "text")
    before = my_client_id(url)
    with pytest.raises(redis_lib.ResponseError):
        hotredis.execute(url, [("INCR", KEY + ":string"), ("ECHO", "left unread")])
    # The unread ECHO reply must never be taken for the next command's.
    assert hotredis.execute(url, [("ECHO", "next")]) == [b"next"]
    assert my_client_id(url) != before


def test_a_command_owed_on_a_dead_connection_fails_over_and_the_round_trip_reconnects(
    url, redis_client
):
    failures = []
    victim = my_client_id(url)
    redis_client.client_kill_filter(_id=victim)
    # Written into a connection the server has already closed: it never runs.
    hotredis.send(url, ("ECHO", "owed"), on_failure=failures.append)
    # The round trip finds the connection dead, fails the owed command over, and retries on a
    # new connection (the dead one had worked) instead of giving up.
    assert hotredis.execute(url, [("ECHO", "after")]) == [b"after"]
    assert len(failures) == 1
    assert isinstance(failures[0], redis_lib.ConnectionError)
    assert my_client_id(url) != victim


def test_commands_nobody_reads_after_are_settled_before_they_pile_up(
    url, redis_client, monkeypatch
):
    monkeypatch.setattr(hotredis, "MAX_UNREAD", 3)
    redis_client.set(KEY + ":string", "text")
    failures = []
    for _ in range(3):
        hotredis.send(url, ("INCR", KEY + ":string"), on_failure=failures.append)
    # The third send read all three replies: every refusal has reached its fallback already.
    assert len(failures) == 3


def test_settle_reads_what_is_owed(url, redis_client):
    redis_client.set(KEY + ":string", "text")
    failures = []
    hotredis.send(url, ("INCR", KEY + ":string"), on_failure=failures.append)
    assert failures == []
    hotredis.settle()
    assert len(failures) == 1


def test_a_dead_server_raises_a_redis_error_and_fails_nothing_silently(url):
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    failures = []
    with pytest.raises(redis_lib.ConnectionError):
        hotredis.send(dead, ("ECHO", "x"), on_failure=failures.append)
    with pytest.raises(redis_lib.ConnectionError):
        hotredis.execute(dead, [("ECHO", "x")])
    # A command that could not be written is the caller's to handle (it got the exception).
    assert failures == []


# The child only makes one Redis call and leaves with os._exit: no lock of another thread's is
# touched, which is what the warning is about.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_makes_its_own_connection(url):
    parent = my_client_id(url)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its connection's id and leave without pytest's teardown
        try:
            os.write(write, str(my_client_id(url)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = int(os.read(read, 64) or b"0")
    os.close(read)
    os.waitpid(pid, 0)
    assert child not in (0, parent)
    assert my_client_id(url) == parent  # the parent's connection is untouched


def test_what_a_thread_is_owed_is_settled_when_the_thread_ends(url, redis_client):
    redis_client.set(KEY + ":string", "text")
    failures = []

    def serve_one_request():
        hotredis.send(url, ("INCR", KEY + ":string"), on_failure=failures.append)

    worker = threading.Thread(target=serve_one_request)
    worker.start()
    worker.join()
    gc.collect()  # the thread's storage is usually gone already; make sure
    assert len(failures) == 1
    assert isinstance(failures[0], redis_lib.ResponseError)


def test_at_exit_every_threads_connections_are_settled(url, redis_client):
    redis_client.set(KEY + ":string", "text")
    failures = []
    sent, finish = threading.Event(), threading.Event()

    def long_lived_thread():
        hotredis.send(url, ("INCR", KEY + ":string"), on_failure=failures.append)
        sent.set()
        finish.wait(5)

    worker = threading.Thread(target=long_lived_thread)
    worker.start()
    try:
        assert sent.wait(5)
        hotredis.settle_all()  # what atexit runs, from the main thread
        assert len(failures) == 1
    finally:
        finish.set()
        worker.join()


def test_a_worker_told_to_stop_while_settling_still_stops(url, monkeypatch):
    # gunicorn raises SystemExit from a signal handler (worker timeout): never swallowed.
    hotredis.send(url, ("ECHO", "owed"), on_failure=lambda error: None)
    [wire] = hotredis._wires().values()

    def interrupted(*args, **kwargs):
        raise SystemExit(1)

    monkeypatch.setattr(wire.connection, "read_response", interrupted)
    with pytest.raises(SystemExit):
        hotredis.settle()


def test_a_failure_handler_that_raises_does_not_stop_the_others(url, caplog):
    failures = []

    def broken(error):
        raise RuntimeError("handler bug")

    hotredis.send(url, ("ECHO", "a"), on_failure=broken)
    hotredis.send(url, ("ECHO", "b"), on_failure=failures.append)
    [wire] = hotredis._wires().values()

    def connection_lost(*args, **kwargs):
        raise redis_lib.ConnectionError("lost")

    wire.connection.read_response = connection_lost  # the next settle finds it dead
    hotredis.settle()
    assert len(failures) == 1
    assert isinstance(failures[0], redis_lib.ConnectionError)
    assert "failure handler failed" in caplog.text
