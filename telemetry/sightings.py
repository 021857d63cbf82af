"""What each token has been used from: the memory behind the new-value and travel rules.

A pass aggregates its rows once per (token, kind, value) into a temporary table; the new-country,
new-IP and new-user-agent rules compare that small table with TokenSighting, and after the rules
`remember_sightings` folds it into TokenSighting. Nothing re-reads 30 days of the usage log.
"""

from datetime import timedelta
from typing import Any

from telemetry.batch import (
    SUMMARY,
    Batch,
    as_datetime,
    db_datetime,
    execute,
    fetch,
    ip_text_sql,
    is_postgres,
    summarize,
)
from telemetry.models import TokenSighting

_SIGHTING = TokenSighting._meta.db_table

_SIGHTING_COLUMNS = {
    TokenSighting.Kind.COUNTRY: "country",
    TokenSighting.Kind.IP: "ip",
    TokenSighting.Kind.USER_AGENT: "user_agent",
}


def _value_sql(kind: str) -> str:
    column = _SIGHTING_COLUMNS[kind]
    return ip_text_sql("u.ip") if column == "ip" else f"u.{column}"


_VALUES = "qg_batch_values"
_table_holds: object = None


def collect_values(batch: Batch) -> None:
    """Aggregate the batch once per (token, kind, value) into a temporary table.

    The three new-value rules and remember_sightings all read this small table instead of each
    grouping the batch again. On PostgreSQL one scan of the batch's summary with GROUPING SETS
    fills it.
    """
    global _table_holds
    marker = batch.memo.get("values")
    if marker is not None and marker is _table_holds:
        return
    timestamp = "timestamptz" if is_postgres() else "datetime"
    execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_VALUES} (token_id bigint, organization_id bigint, "
        f"kind varchar(12), value varchar(300), first_at {timestamp}, last_at {timestamp}, "
        "requests integer)",
        [],
    )
    execute(f"DELETE FROM {_VALUES}", [])  # noqa: S608 (constant identifier)
    summarize(batch)
    execute(_collect_sql(), [])
    batch.memo["values"] = _table_holds = object()


def _collect_sql() -> str:
    # From the batch's summary (batch.summarize), tens of thousands of rows rather than millions.
    columns = "token_id, organization_id, kind, value, first_at, last_at, requests"
    summary = SUMMARY
    if is_postgres():
        ip = ip_text_sql("u.ip")
        return f"""
            INSERT INTO {_VALUES} ({columns})
            SELECT * FROM (
                SELECT u.token_id, MAX(u.organization_id),
                       CASE WHEN GROUPING(u.country) = 0 THEN 'country'
                            WHEN GROUPING({ip}) = 0 THEN 'ip' ELSE 'user_agent' END AS kind,
                       CASE WHEN GROUPING(u.country) = 0 THEN u.country
                            WHEN GROUPING({ip}) = 0 THEN {ip} ELSE u.user_agent END AS value,
                       MIN(u.first_at), MAX(u.last_at), SUM(u.requests)
                FROM {summary} u
                WHERE u.token_id IS NOT NULL
                GROUP BY GROUPING SETS (
                    (u.token_id, u.country), (u.token_id, {ip}), (u.token_id, u.user_agent))
            ) g
            WHERE g.value IS NOT NULL AND g.value <> ''
        """  # noqa: S608 (constant identifiers)
    parts = []
    for kind in _SIGHTING_COLUMNS:
        value = _value_sql(kind)
        parts.append(
            f"""
            SELECT u.token_id, MAX(u.organization_id), '{kind}', {value},
                   MIN(u.first_at), MAX(u.last_at), SUM(u.requests)
            FROM {summary} u
            WHERE u.token_id IS NOT NULL AND {value} IS NOT NULL AND {value} <> ''
            GROUP BY u.token_id, {value}
            """  # noqa: S608 (constant identifiers)
        )
    return f"INSERT INTO {_VALUES} ({columns}) " + " UNION ALL ".join(parts)


def unseen_values(batch: Batch, kind: str, *, lookback: timedelta) -> list[dict[str, Any]]:
    """(token, value) pairs of the batch not seen within `lookback` before their first use,
    for tokens that already had some use of this kind before (a token's first use is not news).
    """
    collect_values(batch)
    latest = max(batch.hours) + timedelta(hours=1)
    rows = fetch(
        f"""
        SELECT b.token_id, b.organization_id, b.value, b.first_at, b.last_at, b.requests,
               s.last_seen AS seen_last,
               (SELECT MIN(t.first_seen) FROM {_SIGHTING} t
                WHERE t.token_id = b.token_id AND t.kind = b.kind) AS token_first_seen,
               (SELECT MIN(v.first_at) FROM {_VALUES} v
                WHERE v.token_id = b.token_id AND v.kind = b.kind) AS batch_first_seen
        FROM {_VALUES} b
        LEFT JOIN {_SIGHTING} s ON s.token_id = b.token_id AND s.kind = b.kind AND s.value = b.value
        WHERE b.kind = %s AND (s.id IS NULL OR s.last_seen < %s)
        """,  # noqa: S608 (constant identifiers; values are parameters)
        [kind, db_datetime(latest - lookback)],
    )
    unseen = []
    for row in rows:
        first_at, last_at = as_datetime(row["first_at"]), as_datetime(row["last_at"])
        seen_last = as_datetime(row["seen_last"])
        if seen_last is not None and seen_last >= first_at - lookback:
            continue
        known_since = [
            moment
            for moment in (
                as_datetime(row["token_first_seen"]),
                as_datetime(row["batch_first_seen"]),
            )
            if moment is not None
        ]
        if not known_since or min(known_since) >= first_at:
            continue  # the token's very first use
        unseen.append(row | {"first_at": first_at, "last_at": last_at, "seen_last": seen_last})
    return unseen


def remember_sightings(batch: Batch) -> None:
    """Fold the batch's countries, IPs and user agents into TokenSighting (after the rules)."""
    collect_values(batch)
    execute(
        f"""
        INSERT INTO {_SIGHTING} (token_id, kind, value, first_seen, last_seen)
        SELECT b.token_id, b.kind, b.value, b.first_at, b.last_at FROM {_VALUES} b WHERE 1 = 1
        ON CONFLICT (token_id, kind, value) DO UPDATE SET
            first_seen = CASE WHEN excluded.first_seen < {_SIGHTING}.first_seen
                              THEN excluded.first_seen ELSE {_SIGHTING}.first_seen END,
            last_seen = CASE WHEN excluded.last_seen > {_SIGHTING}.last_seen
                             THEN excluded.last_seen ELSE {_SIGHTING}.last_seen END
        """,  # noqa: S608 (constant identifiers; values are parameters)
        [],
    )
