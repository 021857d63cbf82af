"""The Redis Stream between the request path and the database: drain, crash replay, fallback."""

import json
import uuid

import pytest

from telemetry import usage
from telemetry.conf import setting
from telemetry.models import UsageRecord
from telemetry.usage import (
    _store_and_ack,
    drain_usage_stream,
    records_in,
    store_records,
    xadd_command,
)
from tests.telemetry.factories import records_in_stream
from tests.telemetry.factories import stream_record as record


def log(entry: dict) -> str:
    """What a request does (buffer the record), then what the flusher does 50 ms later."""
    where = usage.record_usage(entry)
    usage.settle()
    return where


def key() -> str:
    return setting("USAGE_STREAM_KEY")


def group() -> str:
    return setting("USAGE_STREAM_GROUP")


def test_records_go_to_the_stream_when_redis_is_configured(stream, db):
    assert log(record()) == "stream"
    assert stream.xlen(key()) == 1
    assert not UsageRecord.objects.exists()


def test_the_drain_moves_every_entry_into_the_database_in_bulk(stream, db):
    records = [record() for _ in range(25)]
    for r in records:
        log(r)

    result = drain_usage_stream(consumer="drain-1", batch_size=10)

    assert result.read == 25
    stored = set(UsageRecord.objects.values_list("request_id", flat=True))
    assert stored == {uuid.UUID(r["request_id"]) for r in records}
    assert UsageRecord.objects.filter(ip="8.8.8.8").exclude(country="US").count() == 0
    # Acknowledged and deleted: nothing pending, nothing left to replay.
    assert stream.xlen(key()) == 0
    assert stream.xpending(key(), group())["pending"] == 0


def test_entries_read_by_a_crashed_drain_are_claimed_and_replayed_without_duplicates(stream, db):
    records = [record() for _ in range(5)]
    for r in records:
        log(r)
    drain_usage_stream(consumer="warm-up")  # creates the group; nothing yet
    for r in [record() for _ in range(3)]:
        log(r)
    # A drain reads three entries, stores them, then dies before acknowledging.
    entries = stream.xreadgroup(group(), "doomed", {key(): ">"}, count=10)[0][1]
    store_records([r for _, fields in entries for r in records_in(fields)])
    assert stream.xpending(key(), group())["pending"] == 3

    result = drain_usage_stream(consumer="survivor", claim_idle_ms=0)

    assert result.claimed == 3
    assert UsageRecord.objects.count() == 8
    assert len(set(UsageRecord.objects.values_list("request_id", flat=True))) == 8
    assert stream.xpending(key(), group())["pending"] == 0


def test_entries_of_a_live_drain_are_not_stolen(stream, db):
    log(record())
    drain_usage_stream(consumer="warm-up")
    log(record())
    stream.xreadgroup(group(), "busy", {key(): ">"}, count=10)

    result = drain_usage_stream(consumer="other", claim_idle_ms=60_000)

    assert result.claimed == 0
    assert stream.xpending(key(), group())["pending"] == 1


def test_an_entry_replayed_after_commit_inserts_nothing(stream, db):
    r = record()
    store_records([r])
    log(r)

    drain_usage_stream(consumer="drain-1")

    assert UsageRecord.objects.count() == 1


def test_a_malformed_entry_is_dropped_instead_of_blocking_the_stream(stream, db):
    stream.xadd(key(), {"v": b"{not json"})
    log(record())

    result = drain_usage_stream(consumer="drain-1")

    assert (result.read, result.malformed) == (1, 1)  # records stored, entries dropped
    assert UsageRecord.objects.count() == 1
    assert stream.xlen(key()) == 0


@pytest.fixture
def reads(monkeypatch) -> list[tuple[int, int, int]]:
    """(entries, records, malformed) of each read the drain makes, in order."""
    made: list[tuple[int, int, int]] = []
    real = usage._store_and_ack
    monkeypatch.setattr(usage, "_store_and_ack", lambda *args: made.append(real(*args)) or made[-1])
    return made


def test_a_flush_sends_its_records_in_few_entries_in_order(stream, db, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_ENTRY_RECORDS": 10}
    records = [record() for _ in range(25)]
    for r in records:
        usage.record_usage(r)  # 25 requests between two flushes

    usage.settle()

    assert [len(records_in(fields)) for _, fields in stream.xrange(key())] == [10, 10, 5]
    assert records_in_stream(stream, key()) == records
    assert drain_usage_stream(consumer="drain-1").read == 25
    assert UsageRecord.objects.count() == 25


def test_an_entry_caps_the_stream_at_the_records_cap_divided_by_its_records(settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_MAXLEN": 1000}
    # ("XADD", key, "MAXLEN", "~", cap, "*", "b", records)
    assert xadd_command([record()])[4] == 1000
    assert xadd_command([record() for _ in range(40)])[4] == 25
    assert xadd_command([record() for _ in range(3000)])[4] == 1


def test_entries_of_the_release_before_batching_are_still_drained(stream, db):
    # A rolling deploy: a process still on the old release wrote one record per entry ("v").
    old = record()
    stream.xadd(key(), {"v": json.dumps(old)})
    log(record())

    result = drain_usage_stream(consumer="drain-1")

    assert (result.read, result.malformed) == (2, 0)
    assert UsageRecord.objects.filter(request_id=old["request_id"]).exists()


@pytest.mark.parametrize("batch", [b"{not json", b'{"a": 1}', b"[1, 2]"])
def test_a_malformed_batch_is_dropped_whole(stream, db, batch):
    stream.xadd(key(), {"b": batch})
    log(record())

    result = drain_usage_stream(consumer="drain-1")

    assert (result.read, result.malformed) == (1, 1)
    assert stream.xlen(key()) == 0


def test_the_drain_reads_about_a_batch_of_records_whatever_an_entry_holds(
    stream, db, settings, reads
):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_ENTRY_RECORDS": 10}
    for _ in range(6):  # six busy flushes: six full entries of ten records
        for _ in range(10):
            usage.record_usage(record())
        usage.settle()
    for _ in range(30):  # then thirty quiet flushes: an entry of one record each
        log(record())

    result = drain_usage_stream(consumer="drain-1", batch_size=20)

    assert result.read == 90
    # Records per read: two full entries at a time, then two single ones, after which the
    # count follows what the entries hold (20 of them), until the 8 left.
    assert [records for _, records, _ in reads if records] == [20, 20, 20, 2, 20, 8]


def test_dropped_entries_do_not_make_the_next_read_bigger(stream, db, settings, reads):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_ENTRY_RECORDS": 10}
    stream.xadd(key(), {"b": b"{not json"})
    stream.xadd(key(), {"b": b"[1]"})
    for _ in range(6):  # then six full entries of ten records
        for _ in range(10):
            usage.record_usage(record())
        usage.settle()

    result = drain_usage_stream(consumer="drain-1", batch_size=20)

    assert (result.read, result.malformed) == (60, 2)
    # The two dropped entries were a read of no records: the count stays at two full entries.
    assert [records for _, records, _ in reads if records] == [20, 20, 20]


def test_without_redis_records_are_written_directly(no_redis, db):
    assert log(record()) == "database"
    assert UsageRecord.objects.count() == 1


def test_while_redis_is_down_records_are_written_directly(settings, db):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    # The first record is buffered; its flush finds Redis down and stores it directly.
    assert usage.record_usage(record()) == "stream"
    assert usage.settle() == 1
    # Then the breaker is open: the next one is stored by the request itself.
    assert usage.record_usage(record()) == "database"
    assert UsageRecord.objects.count() == 2


def test_the_drain_does_nothing_without_redis(no_redis, db):
    assert drain_usage_stream().read == 0


@pytest.mark.parametrize("status", [200, 401, 500])
def test_store_keeps_every_field(db, status):
    r = record(status=status, auth_failure="expired" if status == 401 else "")
    store_records([r])
    row = UsageRecord.objects.get()
    assert (row.status, row.auth_failure, row.ip, row.country) == (
        status,
        r["auth_failure"],
        "8.8.8.8",
        "US",
    )


def test_acknowledging_happens_only_after_storing(stream, db, monkeypatch):
    log(record())
    drain_usage_stream(consumer="warm-up")
    log(record())
    entries = stream.xreadgroup(group(), "d", {key(): ">"}, count=10)[0][1]

    def fail(records):
        raise RuntimeError("database down")

    monkeypatch.setattr("telemetry.usage.store_records", fail)
    with pytest.raises(RuntimeError):
        _store_and_ack(stream, key(), group(), entries)
    assert stream.xpending(key(), group())["pending"] == 1


def test_consumers_of_exited_drains_are_forgotten_once_they_hold_nothing(stream, db, monkeypatch):
    log(record())
    drain_usage_stream(consumer="old-worker-1")
    log(record())
    stream.xreadgroup(group(), "old-worker-2", {key(): ">"}, count=10)  # holds one entry
    monkeypatch.setattr("telemetry.usage._IDLE_CONSUMER_MS", -1)

    drain_usage_stream(consumer="new-worker", claim_idle_ms=60_000)

    names = {info["name"] for info in stream.xinfo_consumers(key(), group())}
    assert b"old-worker-1" not in names
    assert b"old-worker-2" in names  # still holds an entry: it will be claimed, not dropped


def test_draining_costs_the_same_few_queries_for_many_entries(
    stream, db, django_assert_max_num_queries
):
    for _ in range(200):
        log(record())
    # The first read is sized for full entries (500 // 100 = 5 of them), then follows what the
    # entries hold: two bulk INSERTs (each with its savepoint and release), not one per entry.
    with django_assert_max_num_queries(6):
        drain_usage_stream(consumer="drain-1", batch_size=500)
    assert UsageRecord.objects.count() == 200
