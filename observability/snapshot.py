"""The gauges that cost a query over a big table, worked out by beat, not by each scrape.

`refresh` (the `observability.refresh_snapshot` task, every minute) counts live tokens by kind
and findings by rule and severity, and stores the answer in the shared cache; a scrape reads it
back with one cache call. The task also stamps the worker heartbeat: a scrape that finds the
stamp old knows beat, the broker or every worker is gone.

Without a snapshot in the cache (beat has not run yet, the cache was flushed, the embedded
default's per-process cache) a scrape works it out itself, at most once per SNAPSHOT_TTL per
process, so a scraper can never turn into a count per scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q

from telemetry.models import Anomaly
from tokens.models import PersonalAccessToken
from tokens.scopes import RESOURCES

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "quaygate:observability:snapshot"
HEARTBEAT_KEY = "quaygate:observability:worker-heartbeat"
SNAPSHOT_TTL = 10 * 60
# Long, so an old heartbeat stays visible (and alerts) instead of vanishing.
HEARTBEAT_TTL = 7 * 24 * 60 * 60

_WRITE_SCOPES = tuple(write for _read, write in RESOURCES.values() if write)
_local: dict[str, Any] = {}
_local_lock = threading.Lock()


def compute() -> dict[str, Any]:
    """Two queries: live tokens by kind, findings by rule and severity."""
    holds_write = Q()
    for scope in _WRITE_SCOPES:
        holds_write |= Q(scopes__icontains=f'"{scope}"')
    tokens = PersonalAccessToken.objects.active().aggregate(
        total=Count("id"), write=Count("id", filter=holds_write)
    )
    findings = Anomaly.objects.values("rule", "severity").annotate(n=Count("id")).order_by()
    return {
        "computed_at": time.time(),
        "tokens_active": {"read": tokens["total"] - tokens["write"], "write": tokens["write"]},
        "anomalies": [[row["rule"], row["severity"], row["n"]] for row in findings],
    }


def refresh() -> dict[str, Any]:
    """Work the snapshot out and share it; stamp the worker heartbeat (the beat task)."""
    snapshot = compute()
    cache.set(SNAPSHOT_KEY, snapshot, SNAPSHOT_TTL)
    cache.set(HEARTBEAT_KEY, time.time(), HEARTBEAT_TTL)
    return snapshot


def read() -> tuple[dict[str, Any], float | None]:
    """The snapshot and the worker heartbeat (None when no worker ever stamped it)."""
    try:
        found = cache.get_many([SNAPSHOT_KEY, HEARTBEAT_KEY])
    except Exception:  # the cache is down: the process's own copy, the heartbeat unknown
        logger.warning("Metrics snapshot: cache unavailable", exc_info=True)
        found = {}
    snapshot = found.get(SNAPSHOT_KEY) or _local_snapshot()
    return snapshot, found.get(HEARTBEAT_KEY)


def _local_snapshot() -> dict[str, Any]:
    with _local_lock:
        snapshot = _local.get("snapshot")
        if snapshot is None or time.time() - snapshot["computed_at"] > SNAPSHOT_TTL:
            snapshot = _local["snapshot"] = compute()
            try:
                cache.add(SNAPSHOT_KEY, snapshot, SNAPSHOT_TTL)
            except Exception:
                logger.warning("Metrics snapshot: cache unavailable", exc_info=True)
        return snapshot
