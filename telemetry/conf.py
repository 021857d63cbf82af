"""Telemetry settings with their defaults, read at call time (tests override them freely).

Everything lives under settings.QUAYGATE; anomaly thresholds under QUAYGATE["ANOMALY"].
"""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "USAGE_STREAM_KEY": "quaygate:usage",
    "USAGE_STREAM_GROUP": "usage-drain",
    # Approximate cap on the records in the stream (entries are deleted once drained, so this
    # only bounds a backlog while the drain is down: at ~300 bytes a record, 1M is ~300 MB of
    # Redis). usage.xadd_command says how a cap in records becomes MAXLEN in entries.
    "USAGE_STREAM_MAXLEN": 1_000_000,
    # One flush's records go in entries of at most this many (~40 KB).
    "USAGE_STREAM_ENTRY_RECORDS": 100,
    # Records per read of the drain (about: the entries read are counted, see usage._ReadSize).
    "USAGE_DRAIN_BATCH": 2000,
    # An entry read but not acknowledged for this long belongs to a dead drain: claim it.
    "USAGE_DRAIN_CLAIM_IDLE_MS": 60_000,
    "USAGE_DRAIN_MAX_SECONDS": 20.0,
    # Rows inserted less than this long ago are left for the next pass (out-of-order commits).
    "USAGE_COMMIT_LAG_SECONDS": 120,
    "USAGE_RETENTION_DAYS": 90,
    "USAGE_DELETE_BATCH": 10_000,
    "USAGE_HOURLY_RETENTION_DAYS": 400,
    "DETECTION_MAX_BATCH": 2_000_000,
}

ANOMALY_DEFAULTS: dict[str, Any] = {
    # Findings about activity older than this are not reported (a full re-scan of history
    # learns baselines without mailing people about last month).
    "REPORT_MAX_AGE_HOURS": 24,
    "NEW_COUNTRY_LOOKBACK_DAYS": 30,
    "NEW_IP_LOOKBACK_DAYS": 30,
    "NEW_USER_AGENT_LOOKBACK_DAYS": 30,
    "TRAVEL_MAX_KMH": 1000.0,  # faster than an airliner
    "TRAVEL_MIN_KM": 1000.0,  # neighbours and GeoIP noise are not travel
    "SPIKE_FACTOR": 5.0,  # k in "k x the 14-day p95 of hourly requests"
    "SPIKE_FLOOR": 500,  # and at least this many requests in the hour
    "SPIKE_BASELINE_DAYS": 14,
    "SPIKE_MIN_BASELINE_HOURS": 24,  # no baseline yet: no spike
    "FAILED_AUTH_PER_IP_PER_HOUR": 30,
    "FAILED_AUTH_PER_PREFIX_PER_HOUR": 10,
    "SCOPE_DENIED_PER_TOKEN_PER_HOUR": 20,
}


def setting(name: str) -> Any:
    return settings.QUAYGATE.get(name, DEFAULTS[name])


def anomaly_setting(name: str) -> Any:
    return (settings.QUAYGATE.get("ANOMALY") or {}).get(name, ANOMALY_DEFAULTS[name])
