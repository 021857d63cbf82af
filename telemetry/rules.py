"""Anomaly rules: each a small function from a batch of the usage log to findings.

Every rule aggregates in the database (GROUP BY over the batch, or over the hours it touched)
and returns a few rows to Python; none walks the log row by row. Thresholds are read at call
time from settings.QUAYGATE["ANOMALY"] (defaults in telemetry.conf).
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncHour

from telemetry.batch import (
    Batch,
    as_datetime,
    fetch,
    ip_text_sql,
    summarize,
)
from telemetry.centroids import distance_km
from telemetry.conf import anomaly_setting
from telemetry.models import Anomaly, TokenSighting, UsageHourly, UsageRecord
from telemetry.sightings import unseen_values
from tokens.models import AuditEvent, PersonalAccessToken

Rule = Anomaly.Rule
Severity = Anomaly.Severity
_USAGE = UsageRecord._meta.db_table
_SIGHTING = TokenSighting._meta.db_table

# Reasons (UsageRecord.auth_failure, from tokens.authentication) that mean "a real token that is
# no longer valid was presented".
DEAD_TOKEN_REASONS = ("revoked", "expired")


@dataclass
class Finding:
    rule: str
    severity: str
    token_id: int | None
    organization_id: int | None
    subject: str
    window: str
    first_seen: datetime
    last_seen: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    # False when the owner already has a notice about it (a leaked token's revocation email):
    # then only the organisation's admins are told of the finding.
    notify_owner: bool = True

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.rule, self.token_id or 0, self.subject, self.window)


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def _max_age() -> float:
    return anomaly_setting("REPORT_MAX_AGE_HOURS")


# --- New country, new IP, new user agent -----------------------------------------------------


def _new_value_rule(
    batch: Batch, *, kind: str, rule: str, severity: str, lookback_setting: str
) -> list[Finding]:
    lookback = timedelta(days=anomaly_setting(lookback_setting))
    findings = []
    for row in unseen_values(batch, kind, lookback=lookback):
        if not batch.reportable(row["last_at"], _max_age()):
            continue
        findings.append(
            Finding(
                rule=rule,
                severity=severity,
                token_id=row["token_id"],
                organization_id=row["organization_id"],
                subject=str(row["value"])[:200],
                window=day(row["first_at"]),
                first_seen=row["first_at"],
                last_seen=row["last_at"],
                evidence={
                    kind: row["value"],
                    "requests": row["requests"],
                    "lookback_days": lookback.days,
                }
                | ({"previously_seen": row["seen_last"].isoformat()} if row["seen_last"] else {}),
            )
        )
    return findings


def new_country(batch: Batch) -> list[Finding]:
    """A token used from a country it was not used from in the last 30 days."""
    return _new_value_rule(
        batch,
        kind=TokenSighting.Kind.COUNTRY,
        rule=Rule.NEW_COUNTRY,
        severity=Severity.MEDIUM,
        lookback_setting="NEW_COUNTRY_LOOKBACK_DAYS",
    )


def new_ip(batch: Batch) -> list[Finding]:
    """A token used from an IP address it was not used from recently (low severity)."""
    return _new_value_rule(
        batch,
        kind=TokenSighting.Kind.IP,
        rule=Rule.NEW_IP,
        severity=Severity.LOW,
        lookback_setting="NEW_IP_LOOKBACK_DAYS",
    )


def new_user_agent(batch: Batch) -> list[Finding]:
    """A token used by a user agent it was not used by recently (low severity)."""
    return _new_value_rule(
        batch,
        kind=TokenSighting.Kind.USER_AGENT,
        rule=Rule.NEW_USER_AGENT,
        severity=Severity.LOW,
        lookback_setting="NEW_USER_AGENT_LOOKBACK_DAYS",
    )


# --- Impossible travel -----------------------------------------------------------------------


def impossible_travel(batch: Batch) -> list[Finding]:
    """The same token from two countries farther apart than travel allows in the time between.

    Uses are bucketed per token, country and hour in SQL (from the batch's summary); a window function keeps only the
    buckets where the country changes. The first bucket of each token is compared with the last
    country seen before the batch (TokenSighting).
    """
    changes = fetch(
        f"""
        SELECT token_id, organization_id, country, first_at, last_at, prev_country, prev_last
        FROM (
            SELECT b.*,
                   LAG(b.country) OVER w AS prev_country, LAG(b.last_at) OVER w AS prev_last
            FROM (
                SELECT u.token_id, MAX(u.organization_id) AS organization_id, u.country,
                       MIN(u.first_at) AS first_at, MAX(u.last_at) AS last_at
                FROM {summarize(batch)} u
                WHERE u.token_id IS NOT NULL AND u.country <> ''
                GROUP BY u.token_id, u.country, u.hour
            ) b
            WINDOW w AS (PARTITION BY b.token_id ORDER BY b.first_at, b.last_at)
        ) x
        WHERE prev_country IS NULL OR prev_country <> country
        """,  # noqa: S608 (constant identifiers)
        [],
    )
    firsts = [row for row in changes if row["prev_country"] is None]
    before = _last_country_before(
        {row["token_id"] for row in firsts},
        min((as_datetime(row["first_at"]) for row in firsts), default=batch.now),
    )
    for row in firsts:
        previous = before.get(row["token_id"])
        if previous is not None and previous[1] <= as_datetime(row["first_at"]):
            row["prev_country"], row["prev_last"] = previous
    return [
        finding
        for row in changes
        if row["prev_country"] and row["prev_country"] != row["country"]
        if (finding := _travel_finding(batch, row)) is not None
    ]


def _last_country_before(token_ids: set[int], moment: datetime) -> dict[int, tuple[str, datetime]]:
    latest: dict[int, tuple[str, datetime]] = {}
    sightings = TokenSighting.objects.filter(
        token_id__in=token_ids, kind=TokenSighting.Kind.COUNTRY, last_seen__lte=moment
    ).values_list("token_id", "value", "last_seen")
    for token_id, country, last_seen in sightings:
        if token_id not in latest or last_seen > latest[token_id][1]:
            latest[token_id] = (country, last_seen)
    return latest


def _travel_finding(batch: Batch, row: dict[str, Any]) -> Finding | None:
    distance = distance_km(row["prev_country"], row["country"])
    if distance is None or distance < anomaly_setting("TRAVEL_MIN_KM"):
        return None
    arrived, left = as_datetime(row["first_at"]), as_datetime(row["prev_last"])
    hours = max((arrived - left).total_seconds(), 0) / 3600
    speed = math.inf if hours == 0 else distance / hours
    if speed <= anomaly_setting("TRAVEL_MAX_KMH") or not batch.reportable(arrived, _max_age()):
        return None
    pair = sorted([row["prev_country"], row["country"]])
    return Finding(
        rule=Rule.IMPOSSIBLE_TRAVEL,
        severity=Severity.HIGH,
        token_id=row["token_id"],
        organization_id=row["organization_id"],
        subject="-".join(pair),
        window=day(arrived),
        first_seen=left,
        last_seen=arrived,
        evidence={
            "from": row["prev_country"],
            "to": row["country"],
            "left_at": left.isoformat(),
            "arrived_at": arrived.isoformat(),
            "distance_km": round(distance),
            "hours": round(hours, 2),
            "speed_kmh": None if speed == math.inf else round(speed),
        },
    )


# --- Volume spike ----------------------------------------------------------------------------


def percentile(values: list[int], fraction: float) -> float:
    """Nearest-rank percentile of a small list (a token's hourly counts over 14 days)."""
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return float(ordered[rank - 1])


def volume_spike(batch: Batch) -> list[Finding]:
    """Requests in an hour above k x the token's 14-day p95 of hourly requests, and the floor.

    Needs the batch's hours rolled up first. The baseline is the token's active hours (hours
    with no request are not in the roll-up: a token used one hour a day is judged against its
    busy hours, not against a p95 of zero).
    """
    floor, factor = anomaly_setting("SPIKE_FLOOR"), anomaly_setting("SPIKE_FACTOR")
    baseline_span = timedelta(days=anomaly_setting("SPIKE_BASELINE_DAYS"))
    candidates = list(
        UsageHourly.objects.filter(
            batch.in_touched_hours("hour"),
            token_id__in=batch_keys(batch, "token_id", "token_id IS NOT NULL"),
            requests__gte=floor,
        ).values("token_id", "organization_id", "hour", "requests")
    )
    if not candidates:
        return []
    history: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for token_id, moment, requests in UsageHourly.objects.filter(
        token_id__in={c["token_id"] for c in candidates},
        hour__gte=min(c["hour"] for c in candidates) - baseline_span,
        hour__lt=max(c["hour"] for c in candidates),
    ).values_list("token_id", "hour", "requests"):
        history[token_id].append((moment, requests))
    findings = []
    for candidate in candidates:
        start = candidate["hour"] - baseline_span
        baseline = [
            n for moment, n in history[candidate["token_id"]] if start <= moment < candidate["hour"]
        ]
        if len(baseline) < anomaly_setting("SPIKE_MIN_BASELINE_HOURS"):
            continue
        p95 = percentile(baseline, 0.95)
        if candidate["requests"] <= factor * p95:
            continue
        if not batch.reportable(candidate["hour"] + timedelta(hours=1), _max_age()):
            continue
        findings.append(
            Finding(
                rule=Rule.VOLUME_SPIKE,
                severity=Severity.MEDIUM,
                token_id=candidate["token_id"],
                organization_id=candidate["organization_id"],
                subject="",
                window=hour(candidate["hour"]),
                first_seen=candidate["hour"],
                last_seen=candidate["hour"] + timedelta(hours=1),
                evidence={
                    "requests": candidate["requests"],
                    "baseline_p95": p95,
                    "factor": factor,
                    "baseline_hours": len(baseline),
                },
            )
        )
    return findings


# --- Bursts: failed authentication, scope denials ----------------------------------------------


def batch_keys(batch: Batch, column: str, where: str) -> list[Any]:
    """The distinct values of a column among the batch's rows matching `where` (SQL over the
    batch's summary, whose columns are the usage log's): a handful of IPs, prefixes or tokens."""
    expression = ip_text_sql(column) if column == "ip" else column
    rows = fetch(
        f"SELECT DISTINCT {expression} AS k FROM {summarize(batch)} WHERE {where}",  # noqa: S608
        [],
    )
    return [row["k"] for row in rows]


def _hourly_counts(
    batch: Batch, condition: Q, group_by: str, threshold: int, *, keys_where: str
) -> list[dict]:
    """Per `group_by` value seen in the batch under `condition` (`keys_where`, the same in SQL):
    counts per touched hour."""
    # The keys are fetched first (a handful of IPs, prefixes or tokens) and passed as a list:
    # as a correlated IN-subquery PostgreSQL may probe the batch once per matching row.
    keys = batch_keys(batch, group_by, keys_where)
    if not keys:
        return []
    return list(
        UsageRecord.objects.filter(condition, batch.in_touched_hours())
        .filter(**{f"{group_by}__in": keys})
        .annotate(bucket=TruncHour("created_at"))
        .values(group_by, "bucket")
        .annotate(
            failures=Count("id"),
            first=Min("created_at"),
            last=Max("created_at"),
            organization=Max("organization_id"),
        )
        .filter(failures__gte=threshold)
        .order_by()
    )


def _tokens_by_prefix(prefixes: set[str], **filters) -> dict[str, tuple[int, int]]:
    """Prefix -> (token id, organisation id), for prefixes that name exactly one token."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for prefix, token_id, organization_id in PersonalAccessToken.objects.filter(
        display_prefix__in=prefixes, **filters
    ).values_list("display_prefix", "id", "organization_id"):
        found[prefix].append((token_id, organization_id))
    return {prefix: tokens[0] for prefix, tokens in found.items() if len(tokens) == 1}


def failed_auth_burst(batch: Batch) -> list[Finding]:
    """Many 401s in an hour from one IP (guessing), or against one display prefix."""
    failed = Q(status=401)
    findings = []
    for row in _hourly_counts(
        batch,
        failed & Q(ip__isnull=False),
        "ip",
        anomaly_setting("FAILED_AUTH_PER_IP_PER_HOUR"),
        keys_where="status = 401 AND ip IS NOT NULL",
    ):
        if batch.reportable(row["last"], _max_age()):
            findings.append(_burst(Rule.FAILED_AUTH_BURST, f"ip:{row['ip']}", row, None, None))
    rows = list(
        _hourly_counts(
            batch,
            failed & ~Q(token_prefix=""),
            "token_prefix",
            anomaly_setting("FAILED_AUTH_PER_PREFIX_PER_HOUR"),
            keys_where="status = 401 AND token_prefix <> ''",
        )
    )
    tokens = _tokens_by_prefix({row["token_prefix"] for row in rows})
    for row in rows:
        if batch.reportable(row["last"], _max_age()):
            token_id, organization_id = tokens.get(row["token_prefix"], (None, None))
            subject = f"prefix:{row['token_prefix']}"
            findings.append(_burst(Rule.FAILED_AUTH_BURST, subject, row, token_id, organization_id))
    return findings


def scope_denied_burst(batch: Batch) -> list[Finding]:
    """Many 403s in an hour for one token: code probing for what it may do."""
    findings = []
    for row in _hourly_counts(
        batch,
        Q(status=403, token__isnull=False),
        "token_id",
        anomaly_setting("SCOPE_DENIED_PER_TOKEN_PER_HOUR"),
        keys_where="status = 403 AND token_id IS NOT NULL",
    ):
        if batch.reportable(row["last"], _max_age()):
            findings.append(
                _burst(Rule.SCOPE_DENIED_BURST, "", row, row["token_id"], row["organization"])
            )
    return findings


def _burst(rule: str, subject: str, row: dict, token_id, organization_id) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.MEDIUM,
        token_id=token_id,
        organization_id=organization_id,
        subject=subject,
        window=hour(row["bucket"]),
        first_seen=row["first"],
        last_seen=row["last"],
        evidence={"count": row["failures"], "hour": row["bucket"].isoformat()},
    )


# --- Dead tokens still in use ------------------------------------------------------------------


def revoked_token_used(batch: Batch) -> list[Finding]:
    """A revoked or expired token still presented (a deployment still holds it, or a thief)."""
    rows = [
        row | {"first": as_datetime(row["first"]), "last": as_datetime(row["last"])}
        for row in fetch(
            f"""
            SELECT token_id, organization_id, token_prefix, auth_failure,
                   SUM(requests) AS count, MIN(first_at) AS first, MAX(last_at) AS last
            FROM {summarize(batch)}
            WHERE auth_failure IN (%s, %s) AND NOT (token_id IS NULL AND token_prefix = '')
            GROUP BY token_id, organization_id, token_prefix, auth_failure
            """,  # noqa: S608 (constant identifiers; values are parameters)
            list(DEAD_TOKEN_REASONS),
        )
    ]
    unresolved = {row["token_prefix"] for row in rows if row["token_id"] is None}
    tokens = _tokens_by_prefix(unresolved, revoked_at__isnull=False) if unresolved else {}
    expired = _tokens_by_prefix(unresolved, revoked_at__isnull=True) if unresolved else {}
    findings = []
    for row in rows:
        token_id, organization_id = row["token_id"], row["organization_id"]
        if token_id is None:
            lookup = tokens if row["auth_failure"] == "revoked" else expired
            token_id, organization_id = lookup.get(row["token_prefix"], (None, None))
        if not batch.reportable(row["last"], _max_age()):
            continue
        findings.append(
            Finding(
                rule=Rule.REVOKED_TOKEN_USED,
                severity=Severity.MEDIUM,
                token_id=token_id,
                organization_id=organization_id,
                subject="" if token_id else f"prefix:{row['token_prefix']}",
                window=day(row["first"]),
                first_seen=row["first"],
                last_seen=row["last"],
                evidence={
                    "reason": row["auth_failure"],
                    "count": row["count"],
                    "token_prefix": row["token_prefix"],
                },
            )
        )
    return findings


USAGE_RULES = (
    new_country,
    impossible_travel,
    volume_spike,
    failed_auth_burst,
    revoked_token_used,
    scope_denied_burst,
    new_ip,
    new_user_agent,
)


# --- From the audit log: token in a URL, rotated-out secret reused ------------------------------

AUDIT_RULES = {
    AuditEvent.Action.TOKEN_IN_URL: (Rule.TOKEN_IN_URL, Severity.HIGH),
    AuditEvent.Action.OLD_SECRET_USED: (Rule.OLD_SECRET_REUSED, Severity.HIGH),
}


def audit_findings(lo_id: int, hi_id: int, *, now: datetime) -> list[Finding]:
    """Token sent in a URL, and a rotated-out secret used after its overlap, from audit events."""
    rows = (
        AuditEvent.objects.filter(
            id__gt=lo_id, id__lte=hi_id, action__in=list(AUDIT_RULES), token__isnull=False
        )
        .values("token_id", "token__organization_id", "action")
        .annotate(count=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .order_by()
    )
    cutoff = now - timedelta(hours=_max_age())
    findings = []
    for row in rows:
        if row["last"] < cutoff:
            continue
        rule, severity = AUDIT_RULES[row["action"]]
        findings.append(
            Finding(
                rule=rule,
                severity=severity,
                token_id=row["token_id"],
                organization_id=row["token__organization_id"],
                subject="",
                window=day(row["first"]),
                first_seen=row["first"],
                last_seen=row["last"],
                evidence={"count": row["count"], "audit_action": row["action"]},
            )
        )
    return findings
