"""The audit log's hash chain: each event's `hash` covers its own fields and the previous
event's hash, one chain per organisation and one for platform events (no organisation).

The canonical form (documented in the README, "Verifying the audit chain", for customers):

    canonical = JSON of the object below, keys sorted, no whitespace (separators "," and ":"),
                UTF-8, non-ASCII characters as themselves (not \\u escapes)
    {"action", "actor_kind", "actor_label", "actor_token_id", "actor_user_id", "created_at",
     "details", "ip", "organization_id", "prev_hash", "seq", "token_id", "token_prefix",
     "user_agent"}
    created_at = UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six fraction digits)
    hash       = lowercase hex SHA-256 of canonical
    prev_hash  = the previous event's hash in the same chain; 64 "0"s for the first (seq 1)

This module does not import tokens.models (the model calls it on every insert); the head model
is handed in. The lock: the chain's head row, SELECT … FOR UPDATE in the inserting
transaction, so two writers to one chain queue behind each other and can never both take the
same `seq` (a unique (chain, seq) constraint backs that up). SQLite serialises writers anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Model

GENESIS = "0" * 64
PLATFORM_CHAIN = "platform"
CANONICAL_FIELDS = (
    "action",
    "actor_kind",
    "actor_label",
    "actor_token_id",
    "actor_user_id",
    "created_at",
    "details",
    "ip",
    "organization_id",
    "prev_hash",
    "seq",
    "token_id",
    "token_prefix",
    "user_agent",
)


def chain_key(organization_id: int | None) -> str:
    return f"org:{organization_id}" if organization_id is not None else PLATFORM_CHAIN


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_document(event: Any, *, seq: int, prev_hash: str) -> dict[str, Any]:
    """The fields the hash covers, as the database gives them back (so a re-read hashes the same)."""
    return {
        "action": str(event.action),
        "actor_kind": str(event.actor_kind),
        "actor_label": event.actor_label or "",
        "actor_token_id": event.actor_token_id,
        "actor_user_id": event.actor_user_id,
        "created_at": format_time(event.created_at),
        "details": event.details if event.details is not None else {},
        "ip": event.ip or None,
        "organization_id": event.organization_id,
        "prev_hash": prev_hash,
        "seq": seq,
        "token_id": event.token_id,
        "token_prefix": event.token_prefix or "",
        "user_agent": event.user_agent or "",
    }


def canonical_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: Any, *, seq: int, prev_hash: str) -> str:
    document = canonical_document(event, seq=seq, prev_hash=prev_hash)
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def _normalise(event: Any) -> None:
    """Store exactly what will be read back: details through a JSON round trip (tuples become
    lists, int keys strings), the address as the field prepares it (IPv6 compressed)."""
    event.details = json.loads(json.dumps(event.details or {}))
    if event.ip:
        event.ip = type(event)._meta.get_field("ip").get_prep_value(event.ip)


def _lock_head(head_model: type[Model], key: str, organization_id: int | None) -> Any:
    head = head_model.objects.select_for_update().filter(key=key).first()
    if head is None:
        # First event of this chain: make the head (a concurrent first writer's insert is
        # ignored, not an error), then lock whichever row won.
        head_model.objects.bulk_create(
            [head_model(key=key, organization_id=organization_id)], ignore_conflicts=True
        )
        head = head_model.objects.select_for_update().get(key=key)
    return head


def link_events(events: Sequence[Any], *, head_model: type[Model]) -> list[Any]:
    """Give unsaved events their chain, seq, prev_hash and hash, and move the heads on.

    Must run in the transaction that inserts them (the head locks are held until it ends).
    Heads are locked in key order so two multi-chain writers cannot deadlock.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("link_events needs the inserting transaction")
    by_chain: dict[str, list[Any]] = {}
    for event in events:
        _normalise(event)
        by_chain.setdefault(chain_key(event.organization_id), []).append(event)
    for key in sorted(by_chain):
        chain_events = by_chain[key]
        head = _lock_head(head_model, key, chain_events[0].organization_id)
        seq, previous = head.seq, head.hash or GENESIS
        for event in chain_events:
            seq += 1
            event.chain_id, event.chain_seq, event.prev_hash = head.pk, seq, previous
            event.hash = previous = event_hash(event, seq=seq, prev_hash=event.prev_hash)
        head_model.objects.filter(pk=head.pk).update(seq=seq, hash=previous)
    return list(events)


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    key: str
    events: int
    head_seq: int
    head_hash: str
    broken_event_id: int | None = None
    broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def walk(key: str, head: Any, rows: Iterable[Any]) -> ChainReport:
    """Check `rows` (one chain's events in seq order) link up and end at the head.

    Reports the first broken link: a row whose stored hash is not its recomputed one (edited),
    whose prev_hash is not the previous hash or whose seq skips (a row removed or inserted),
    or a head that is not where the last row is (rows cut off the end).
    """
    expected_seq, previous, count = 1, GENESIS, 0
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, "")

    def broken(row: Any, problem: str) -> ChainReport:
        return ChainReport(key, count, head_seq, head_hash, row.id, row.chain_seq, problem)

    for row in rows:
        if row.chain_seq != expected_seq:
            return broken(row, f"seq {row.chain_seq} where {expected_seq} was expected")
        if row.prev_hash != previous:
            return broken(row, "prev_hash is not the previous event's hash")
        if event_hash(row, seq=row.chain_seq, prev_hash=row.prev_hash) != row.hash:
            return broken(row, "hash does not match the event's contents")
        previous, expected_seq, count = row.hash, expected_seq + 1, count + 1
    if count != head_seq:
        problem = f"the chain ends at seq {count} but its head says {head_seq}"
        return ChainReport(key, count, head_seq, head_hash, problem=problem)
    if count and previous != head_hash:
        problem = "the last event's hash is not the head's"
        return ChainReport(key, count, head_seq, head_hash, problem=problem)
    return ChainReport(key, count, head_seq, head_hash)


def iterate(queryset: Any, *, chunk: int = 2000) -> Iterator[Any]:
    """Constant memory on any backend: keyset pages by seq (a server-side cursor would hold
    one transaction open across a walk of millions)."""
    last = 0
    while True:
        page = list(queryset.filter(chain_seq__gt=last).order_by("chain_seq")[:chunk])
        if not page:
            return
        yield from page
        last = page[-1].chain_seq
