"""Idempotency keys for the API's writes, as Stripe has them.

A client sends `Idempotency-Key: <1-255 printable characters>` with a write. The first request
with a key claims it (an IdempotencyRecord, committed at once so concurrent duplicates see it),
runs, and stores its response; a retry of the same request (same method, path and body bytes)
within 24 hours gets that response again instead of running twice. The same key with another
request is a 422, a duplicate while the first still runs a 409.

Only successful responses are stored: an error changed nothing (its transaction rolled back),
so the key is released and the client may retry, or fix the request and send it with the same
key. The write and the stored response commit together (see api.views.base.idempotent), so a
worker killed in between leaves neither, and a retry after ABANDONED_AFTER may take the key over.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from api.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused
from api.models import IdempotencyRecord
from core.db import delete_in_batches

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII, 1 to 255 characters, no space at either end (proxies trim those, so a retry
# through one would not match). The schema documents the same pattern.
KEY_PATTERN = r"^[!-~](?:[ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
TTL = timedelta(hours=24)
# A first request that has not finished after this long died with its worker (its transaction
# rolled back), so a retry may take the key over rather than wait out the 24 hours.
ABANDONED_AFTER = timedelta(minutes=5)
PURGE_BATCH = 5000


def is_valid_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key))


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and the body's bytes."""
    if len(path) > 256:  # not one of our routes' paths, but never a too-long column value
        path = "sha256:" + hashlib.sha256(path.encode()).hexdigest()
    return f"{method[:16]} {path} {hashlib.sha256(body).hexdigest()}"


@dataclass(frozen=True, slots=True)
class Claim:
    record: IdempotencyRecord
    fresh: bool  # True: this request runs; False: the record holds the response to replay


def claim_key(*, token_id: int, key: str, fingerprint: str, now: datetime | None = None) -> Claim:
    """Claim `key` for this request, or return the completed record to replay.

    Raises IdempotencyKeyReused (another request used the key) or IdempotencyKeyInUse (the
    first request with the key is still running).
    """
    now = now or timezone.now()
    for _ in range(2):  # a second try when the record went between our insert and our read
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    token_id=token_id, key=key, fingerprint=fingerprint, created_at=now
                )
            return Claim(record, fresh=True)
        except IntegrityError:
            pass  # the key is known: a retry, a reuse or a duplicate in flight
        record = IdempotencyRecord.objects.filter(token_id=token_id, key=key).first()
        if record is not None:
            break
    else:  # released and claimed again twice in a row: someone else is busy with this key
        raise IdempotencyKeyInUse()
    if record.created_at <= now - TTL:
        return _take_over(record, fingerprint=fingerprint, now=now)  # expired, not yet purged
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.status is None:
        if record.created_at <= now - ABANDONED_AFTER:
            return _take_over(record, fingerprint=fingerprint, now=now)
        raise IdempotencyKeyInUse()
    return Claim(record, fresh=False)


def _take_over(record: IdempotencyRecord, *, fingerprint: str, now: datetime) -> Claim:
    # Conditional: of two retries taking over the same record, exactly one wins.
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, created_at=record.created_at, status=record.status
    ).update(fingerprint=fingerprint, status=None, body=None, created_at=now)
    if not taken:
        raise IdempotencyKeyInUse()
    record.fingerprint, record.status, record.body, record.created_at = fingerprint, None, None, now
    return Claim(record, fresh=True)


def complete(claim: Claim, *, status: int, body: Any) -> None:
    """Store the response. Call inside the write's transaction: they commit together.

    Raises IdempotencyKeyInUse when a retry took the key over meanwhile (this request ran past
    ABANDONED_AFTER): the write rolls back, so the key's work is done once, by the retry.
    """
    stored = IdempotencyRecord.objects.filter(
        pk=claim.record.pk, status__isnull=True, created_at=claim.record.created_at
    ).update(status=status, body=body)
    if not stored:
        raise IdempotencyKeyInUse()


def release(claim: Claim) -> None:
    """Free the key after a failed request, so the client can retry with it."""
    IdempotencyRecord.objects.filter(
        pk=claim.record.pk, status__isnull=True, created_at=claim.record.created_at
    ).delete()


def purge_expired_records(*, now: datetime | None = None, batch_size: int = PURGE_BATCH) -> int:
    """Delete records older than TTL, in batches (short locks). Returns how many went."""
    cutoff = (now or timezone.now()) - TTL
    return delete_in_batches(
        IdempotencyRecord.objects.filter(created_at__lt=cutoff), batch_size=batch_size
    )
