"""The Quaygate-Signature header, Stripe's scheme: `t=<unix>,v1=<hex HMAC-SHA256>`.

The signed message is `f"{t}.{body}"` (the raw request body, bytes). During a secret rotation's
24-hour overlap the header carries one `v1=` per secret (new first), so a receiver that still
has the old secret keeps verifying. Receivers reject a `t` more than TOLERANCE_SECONDS away from
their clock (replays). Pure: no Django, so the docs' snippet and our tests share it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "Quaygate-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"] + [f"v1={signature(s, timestamp, body)}" for s in secrets]
    return ",".join(parts)


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does (the documented algorithm): any v1 matching, t within tolerance."""
    timestamp, candidates = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
