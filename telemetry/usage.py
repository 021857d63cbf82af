"""Writing the usage log: nothing on the request path but an append, nothing lost.

A request appends its record to this process's buffer. A flusher thread sends the buffer to a
Redis Stream every 50 ms, and flushes it at exit: one XADD per flush, its records a JSON array
in one entry (at most USAGE_STREAM_ENTRY_RECORDS of them; a bigger flush makes more entries in
the same round trip). One command per record cost the web process ~31 µs of CPU and Redis
~6.5 µs per record; one per flush ~10 + 2.6 µs for the whole batch.

A Celery task drains the stream through a consumer group in bulk: rows are inserted
with ON CONFLICT DO NOTHING on request_id, and entries are acknowledged (and deleted) only after
the transaction commits. Entries a crashed drain read but never acknowledged are claimed by the
next drain (XAUTOCLAIM) and replayed; their request_ids make the replay insert nothing twice.

Without Redis (the embedded default), or while Redis is down, the row is inserted directly.
"""

import atexit
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import hotredis, requestid
from core.net import client_ip
from telemetry.conf import setting
from telemetry.geo import country_for
from telemetry.models import UsageRecord
from tokens import format as token_format

logger = logging.getLogger(__name__)

_REDIS_RETRY_AFTER_SECONDS = 5.0
_IDLE_CONSUMER_MS = 60 * 60 * 1000
_redis_down_until = 0.0


def _scrub(text: str) -> str:
    """A whole token anywhere in a path or user agent is cut to its display prefix."""
    return token_format.FAMILY_PATTERN.sub(
        lambda match: token_format.display_prefix(match.group(0)) + "…", text
    )


def build_usage_record(
    request: HttpRequest,
    response: HttpResponseBase,
    *,
    started_at: datetime,
    latency_ms: float,
) -> dict[str, Any]:
    """The usage record of one request, as plain JSON-friendly values.

    Reads only what authentication left on the request (`qg_token`, `qg_auth_failure`): never
    the Authorization header, never the query string (a token sent in the URL lives there).
    """
    token = getattr(request, "qg_token", None)
    failure = getattr(request, "qg_auth_failure", None) or {}
    match = getattr(request, "resolver_match", None)
    # A streaming body is not read (that would consume it): its declared length, if any.
    streaming = response.streaming
    size = int(response.get("Content-Length") or 0) if streaming else len(response.content)
    prefix = (getattr(token, "display_prefix", "") or failure.get("token_prefix") or "")[:8]
    return {
        # The request's id (core.requestid: a UUID, as the column is), the one in its
        # X-Request-Id header and log lines; a new one outside a request.
        "request_id": requestid.current() or requestid.new(),
        "created_at": started_at.isoformat(),
        "token_id": getattr(token, "id", None) or failure.get("token_id"),
        "organization_id": getattr(token, "organization_id", None)
        or failure.get("organization_id"),
        "token_prefix": prefix,
        # The prefix says the kind, for a failed attempt as for a verified token.
        "sandbox": prefix.startswith("qgs_"),
        "method": request.method[:8] if request.method else "",
        "route": (match.route if match is not None else "")[:200],
        "path": _scrub(request.path)[:500],
        "status": response.status_code,
        "latency_ms": round(latency_ms, 3),
        "ip": client_ip(request),
        "user_agent": _scrub(request.META.get("HTTP_USER_AGENT", ""))[:300],
        "response_bytes": size,
        "auth_failure": str(failure.get("reason") or "")[:32],
    }


# --- Redis ------------------------------------------------------------------------------------


def redis_client() -> redis.Redis | None:
    url = getattr(settings, "REDIS_URL", "")
    return hotredis.client_for(url) if url else None


def xadd_command(records: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The XADD of one entry carrying `records` (field "b", a JSON array), trimmed with MAXLEN ~.

    USAGE_STREAM_MAXLEN caps records, and MAXLEN counts entries: so each XADD trims to the cap
    divided by its own number of records. A steady load keeps about USAGE_STREAM_MAXLEN records
    (a quiet system's one-record entries up to that many entries, a busy one's fuller entries
    fewer); a load that changes while the drain is down can hold a few times more. The drain
    keeps the stream near empty: the cap only bounds a backlog.
    """
    return (
        "XADD",
        setting("USAGE_STREAM_KEY"),
        "MAXLEN",
        "~",
        max(1, setting("USAGE_STREAM_MAXLEN") // len(records)),
        "*",
        "b",
        json.dumps(records, separators=(",", ":")),
    )


def entries_of(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The records of one flush, in order, cut into entries of USAGE_STREAM_ENTRY_RECORDS."""
    size = setting("USAGE_STREAM_ENTRY_RECORDS")
    return [records[start : start + size] for start in range(0, len(records), size)]


def record_usage(record: dict[str, Any]) -> str:
    """Queue the record for the stream, or insert it directly when there is no Redis. Returns
    where it went.

    The request only appends to this process's buffer; the flusher thread sends the buffer to
    the stream every FLUSH_EVERY_SECONDS in one round trip (one XADD per entry of records), off
    every request's path. A record Redis refuses, or one whose round trip fails, is inserted
    directly by the flusher; if Redis had appended it after all, the drain's conflict on
    request_id skips the copy. At exit the buffer is flushed; a SIGKILL loses at most the
    records of its last FLUSH_EVERY_SECONDS (plus the one flush on the way).
    """
    url = getattr(settings, "REDIS_URL", "")
    if url and time.monotonic() >= _redis_down_until:
        _pending.append(record)
        if _flusher is None:
            _start_flusher()
        return "stream"
    store_records([record])
    return "database"


FLUSH_EVERY_SECONDS = 0.05
# False: no flusher thread; records wait for flush() or exit. The in-process test suite runs so
# and flushes where it looks: a thread of its own would write outside the test's transaction.
BACKGROUND = True
# At most this many records wait for a database that is down too; older ones are dropped (and
# counted in the log) rather than growing without bound.
_KEEP_AT_MOST = 100_000
# Records waiting for the next flush. A deque: appends and pops are atomic across threads.
_pending: deque[dict[str, Any]] = deque()
_flush_lock = threading.Lock()
_flusher: threading.Thread | None = None


def _start_flusher() -> None:
    global _flusher
    if not BACKGROUND:
        return
    with _flush_lock:
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="usage-flusher", daemon=True)
            _flusher.start()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_EVERY_SECONDS)
        try:
            if flush():
                connections.close_all()  # this thread's own; a flush that stored rows opened one
        except Exception:
            logger.exception("Could not flush usage records")


def flush() -> int:
    """Send what is buffered to the stream; what Redis does not take is inserted directly.
    Returns how many records were inserted directly (0: all went to the stream)."""
    with _flush_lock:
        records = []
        while _pending:
            try:
                records.append(_pending.popleft())
            except IndexError:  # another thread took the last one
                break
        if not records:
            return 0
        refused = _send(records)
        if not refused:
            return 0
        logger.warning("Redis did not take %d usage record(s): stored directly", len(refused))
        try:
            return store_records(refused)
        except DatabaseError:
            logger.exception("Could not store %d usage record(s) Redis refused", len(refused))
            kept = refused[-_KEEP_AT_MOST:]
            _pending.extendleft(reversed(kept))  # tried again with the next flush
            return 0


def _send(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """XADD the records' entries in one round trip; returns the records Redis did not take."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return records
    entries = entries_of(records)
    try:
        pipe = hotredis.client_for(url).pipeline(transaction=False)
        for entry in entries:
            pipe.execute_command(*xadd_command(entry))
        replies = pipe.execute(raise_on_error=False)
    except redis.RedisError:
        _redis_failed()
        return records
    return [
        record
        for entry, reply in zip(entries, replies, strict=True)
        if isinstance(reply, Exception)
        for record in entry
    ]


def _redis_failed() -> None:
    global _redis_down_until
    # Don't pay a connect timeout on every request while Redis is down.
    _redis_down_until = time.monotonic() + _REDIS_RETRY_AFTER_SECONDS
    logger.warning("Redis unavailable: writing usage directly to the database")


def settle() -> int:
    """Flush now (tests; exit): returns how many records went to the database directly."""
    return flush()


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception:
        logger.exception("Usage records were not flushed at exit")


def _forget_parent_buffer() -> None:
    # A forked child (a gunicorn worker) starts its own flusher; the parent's records are the
    # parent's to send.
    global _flusher, _pending, _flush_lock
    _flusher, _pending, _flush_lock = None, deque(), threading.Lock()


atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=_forget_parent_buffer)


# --- Storing ----------------------------------------------------------------------------------


def _to_model(record: dict[str, Any], countries: dict[str, str]) -> UsageRecord:
    ip = record.get("ip") or None
    if ip is not None and ip not in countries:
        countries[ip] = country_for(ip)
    created_at = parse_datetime(record["created_at"]) or timezone.now()
    return UsageRecord(
        request_id=uuid.UUID(record["request_id"]),
        created_at=created_at,
        inserted_at=timezone.now(),
        token_id=record.get("token_id"),
        organization_id=record.get("organization_id"),
        token_prefix=record.get("token_prefix") or "",
        method=record.get("method") or "",
        route=record.get("route") or "",
        path=record.get("path") or "",
        status=int(record["status"]),
        latency_ms=float(record.get("latency_ms") or 0),
        ip=ip,
        country=record.get("country") or (countries[ip] if ip else ""),
        user_agent=record.get("user_agent") or "",
        response_bytes=int(record.get("response_bytes") or 0),
        auth_failure=record.get("auth_failure") or "",
        sandbox=bool(record.get("sandbox")),
    )


def store_records(records: Iterable[dict[str, Any]]) -> int:
    """Insert records in bulk; a request_id already stored is skipped (replays insert nothing)."""
    countries: dict[str, str] = {}
    rows = [_to_model(record, countries) for record in records]
    with transaction.atomic():
        UsageRecord.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


# --- Draining ---------------------------------------------------------------------------------


@dataclass
class DrainResult:
    read: int = 0  # records in new entries
    claimed: int = 0  # records in entries a dead drain had read
    malformed: int = 0  # entries dropped


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(client: redis.Redis, key: str, group: str) -> None:
    try:
        # From "0": entries added before the group existed are drained too.
        client.xgroup_create(key, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def records_in(fields: dict[bytes, bytes]) -> list[dict[str, Any]]:
    """The records of one entry: "b" holds a flush's JSON array, "v" one record (the entries
    of a process still on the release before batching, during a rolling deploy)."""
    if b"b" in fields:
        records = json.loads(fields[b"b"])
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError("not a list of records")
        return records
    record = json.loads(fields[b"v"])
    if not isinstance(record, dict):
        raise ValueError("not a record")
    return [record]


def _decode(entries) -> tuple[list[bytes], list[dict[str, Any]], int]:
    ids, records, malformed = [], [], 0
    for entry_id, fields in entries:
        ids.append(entry_id)
        if not fields:  # deleted while pending
            continue
        try:
            records.extend(records_in(fields))
        except (KeyError, ValueError):
            # A poison entry would otherwise be replayed forever: log it and let it go.
            logger.error("Dropping malformed usage stream entry %r", entry_id)
            malformed += 1
    return ids, records, malformed


def _store_and_ack(client: redis.Redis, key: str, group: str, entries) -> tuple[int, int, int]:
    """Store the entries' records, then acknowledge and delete the entries: (entries,
    records, malformed entries)."""
    ids, records, malformed = _decode(entries)
    if records:
        store_records(records)  # commits before we acknowledge anything
    if ids:
        pipeline = client.pipeline(transaction=False)
        pipeline.xack(key, group, *ids)
        pipeline.xdel(key, *ids)
        pipeline.execute()
    return len(ids), len(records), malformed


class _ReadSize:
    """How many entries to read at once for about `batch` records. Entries hold 1 to
    USAGE_STREAM_ENTRY_RECORDS records, so the count follows the last read's records per entry,
    starting from full entries (a first read never holds more than `batch` records) and never
    past `batch` entries (the most a read took when every entry was one record). A backlog that
    turns from one-record entries to full ones meets one read of up to ENTRY_RECORDS x `batch`
    records before the count follows."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.count = max(1, batch // setting("USAGE_STREAM_ENTRY_RECORDS"))

    def learn(self, entries: int, records: int) -> None:
        if entries and records:  # entries dropped as malformed say nothing about the others
            self.count = max(1, min(self.batch * entries // records, self.batch))


def drain_usage_stream(
    *,
    consumer: str | None = None,
    batch_size: int | None = None,
    claim_idle_ms: int | None = None,
    max_seconds: float | None = None,
) -> DrainResult:
    """Move stream entries into the database until the stream is empty or time is up."""
    result = DrainResult()
    client = redis_client()
    if client is None:
        return result
    key, group = setting("USAGE_STREAM_KEY"), setting("USAGE_STREAM_GROUP")
    consumer = consumer or default_consumer_name()
    batch_size = batch_size or setting("USAGE_DRAIN_BATCH")
    claim_idle_ms = setting("USAGE_DRAIN_CLAIM_IDLE_MS") if claim_idle_ms is None else claim_idle_ms
    deadline = time.monotonic() + (max_seconds or setting("USAGE_DRAIN_MAX_SECONDS"))
    _ensure_group(client, key, group)

    # First what dead drains left behind, then what is new.
    size = _ReadSize(batch_size)
    start = "0-0"
    while time.monotonic() < deadline:
        start, entries, *_ = client.xautoclaim(
            key, group, consumer, min_idle_time=claim_idle_ms, start_id=start, count=size.count
        )
        count, records, malformed = _store_and_ack(client, key, group, entries)
        size.learn(count, records)
        result.claimed += records
        result.malformed += malformed
        if start in (b"0-0", "0-0"):
            break
    while time.monotonic() < deadline:
        response = client.xreadgroup(group, consumer, {key: ">"}, count=size.count)
        if not response or not response[0][1]:
            break
        count, records, malformed = _store_and_ack(client, key, group, response[0][1])
        size.learn(count, records)
        result.read += records
        result.malformed += malformed
    _forget_idle_consumers(client, key, group, keep=consumer)
    return result


def _forget_idle_consumers(client: redis.Redis, key: str, group: str, *, keep: str) -> None:
    """Drop consumers of exited worker processes (named by pid) that hold nothing pending."""
    for info in client.xinfo_consumers(key, group):
        name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
        if name != keep and info["pending"] == 0 and info["idle"] > _IDLE_CONSUMER_MS:
            client.xgroup_delconsumer(key, group, name)
