"""Hourly roll-ups per token and retention of the usage log. All in SQL.

The roll-up of a pass recomputes every (token, hour) that the pass's rows fall in, from the
usage rows of that hour: distinct IPs cannot be added up incrementally, and recomputing a
touched hour is cheap (one hour of one token's rows, through the (token, created_at) index).
"""

from datetime import timedelta

from django.utils import timezone

from core.db import delete_in_batches
from telemetry import partitions
from telemetry.batch import Batch, as_datetime, execute, fetch, hour_sql, is_postgres, summarize
from telemetry.conf import setting
from telemetry.models import TokenSighting, UsageHourly, UsageRecord

_USAGE = UsageRecord._meta.db_table
_HOURLY = UsageHourly._meta.db_table


def _countries_sql() -> str:
    if is_postgres():
        return "COALESCE(jsonb_agg(DISTINCT u.country) FILTER (WHERE u.country <> ''), '[]'::jsonb)"
    return "COALESCE(json_group_array(DISTINCT u.country) FILTER (WHERE u.country <> ''), '[]')"


def roll_up_hours(batch: Batch) -> int:
    """Upsert the UsageHourly rows of every token and hour the batch touched.

    An hour whose rows all lie in the batch is rolled up from the batch's summary (tens of
    thousands of rows); only the hours the batch shares with rows outside it (a burst
    straddling two passes, a late drain) are recounted from the usage log.
    """
    if batch.empty:
        return 0
    shared = Batch(batch.lo_id, batch.hi_id, batch.now, _shared_hours(batch), memo=batch.memo)
    count = _roll_up_from_summary(batch, excluding=shared)
    if not shared.empty:
        count += _roll_up_from_usage(shared)
    return count


def _shared_hours(batch: Batch) -> tuple:
    """The touched hours that also hold rows outside the batch. On PostgreSQL the two BRIN
    indexes (created_at, id) leave only the block ranges at the batch's edges to read."""
    touched, params = batch.touched_hours_sql("u.created_at")
    rows = fetch(
        f"""
        SELECT DISTINCT {hour_sql("u.created_at")} AS hour FROM {_USAGE} u
        WHERE {touched} AND (u.id <= %s OR u.id > %s)
        """,  # noqa: S608 (constant identifiers; values are parameters)
        [*params, batch.lo_id, batch.hi_id],
    )
    return tuple(sorted(as_datetime(row["hour"]) for row in rows))


_UPSERT = """
    ON CONFLICT (token_id, hour) DO UPDATE SET
        requests = excluded.requests, status_2xx = excluded.status_2xx,
        status_3xx = excluded.status_3xx, status_4xx = excluded.status_4xx,
        status_5xx = excluded.status_5xx, distinct_ips = excluded.distinct_ips,
        countries = excluded.countries
"""


def _roll_up_from_summary(batch: Batch, *, excluding: Batch) -> int:
    shared, params = excluding.touched_hours_sql("u.hour")
    sql = f"""
        INSERT INTO {_HOURLY} (token_id, organization_id, hour, requests, status_2xx,
                               status_3xx, status_4xx, status_5xx, distinct_ips, countries)
        SELECT u.token_id, MAX(u.organization_id), u.hour, SUM(u.requests),
               SUM(CASE WHEN u.status >= 200 AND u.status < 300 THEN u.requests ELSE 0 END),
               SUM(CASE WHEN u.status >= 300 AND u.status < 400 THEN u.requests ELSE 0 END),
               SUM(CASE WHEN u.status >= 400 AND u.status < 500 THEN u.requests ELSE 0 END),
               SUM(CASE WHEN u.status >= 500 THEN u.requests ELSE 0 END),
               COUNT(DISTINCT u.ip), {_countries_sql()}
        FROM {summarize(batch)} u
        WHERE u.token_id IS NOT NULL AND u.organization_id IS NOT NULL AND NOT {shared}
        GROUP BY u.token_id, u.hour
        {_UPSERT}
    """  # noqa: S608 (constant identifiers; values are parameters)
    return execute(sql, params)


def _roll_up_from_usage(batch: Batch) -> int:
    """Recount the batch's tokens in `batch.hours` from every usage row of those hours."""
    touched, params = batch.touched_hours_sql("u.created_at")
    hour = hour_sql("u.created_at")
    # Two levels: a hash aggregate per (token, hour, ip, country) over the rows, then a small
    # one per (token, hour). COUNT(DISTINCT) straight over the rows would sort them all. The
    # first level is a MATERIALIZED CTE so that it is planned on its own: PostgreSQL expects
    # about one group per row (millions; it cannot know traffic repeats) and, planned together,
    # would sort all the rows on disk for the outer COUNT(DISTINCT) instead of hashing them
    # into the few thousand groups there are and sorting those.
    sql = f"""
        WITH u AS MATERIALIZED (
            SELECT u.token_id, MAX(u.organization_id) AS organization_id, {hour} AS hour,
                   u.ip, u.country, COUNT(*) AS requests,
                   SUM(CASE WHEN u.status >= 200 AND u.status < 300 THEN 1 ELSE 0 END) AS s2,
                   SUM(CASE WHEN u.status >= 300 AND u.status < 400 THEN 1 ELSE 0 END) AS s3,
                   SUM(CASE WHEN u.status >= 400 AND u.status < 500 THEN 1 ELSE 0 END) AS s4,
                   SUM(CASE WHEN u.status >= 500 THEN 1 ELSE 0 END) AS s5
            FROM {_USAGE} u
            WHERE u.token_id IN (SELECT DISTINCT b.token_id FROM {summarize(batch)} b
                                 WHERE b.token_id IS NOT NULL)
              AND u.organization_id IS NOT NULL AND {touched}
            GROUP BY u.token_id, {hour}, u.ip, u.country
        )
        INSERT INTO {_HOURLY} (token_id, organization_id, hour, requests, status_2xx,
                               status_3xx, status_4xx, status_5xx, distinct_ips, countries)
        SELECT u.token_id, MAX(u.organization_id), u.hour, SUM(u.requests), SUM(u.s2),
               SUM(u.s3), SUM(u.s4), SUM(u.s5), COUNT(DISTINCT u.ip), {_countries_sql()}
        FROM u
        WHERE 1 = 1
        GROUP BY u.token_id, u.hour
        {_UPSERT}
    """  # noqa: S608 (constant identifiers; values are parameters)
    return execute(sql, params)


def purge_old_usage(*, now=None, batch_size: int | None = None) -> int:
    """Remove usage rows older than USAGE_RETENTION_DAYS; returns how many went.

    On PostgreSQL every day partition that ends by the cutoff is dropped whole (one catalogue
    change for a day of rows, no dead tuples, no WAL per row), so a day's rows go on the first
    run after the day is wholly past the cutoff. What is left older than the cutoff (the
    default partition's rows; SQLite's plain table) is deleted in batches (short locks, small
    WAL). Hourly roll-ups are kept longer (USAGE_HOURLY_RETENTION_DAYS) for the portal's charts;
    sightings not seen within the retention period are forgotten with the rows.
    """
    now = now or timezone.now()
    batch_size = batch_size or setting("USAGE_DELETE_BATCH")
    cutoff = now - timedelta(days=setting("USAGE_RETENTION_DAYS"))
    _, deleted = partitions.drop_before(cutoff)
    # Rows before the first day partition left (the default partition's): nothing references
    # usage rows and no signals listen, so each batch is one DELETE. The day partition holding
    # the cutoff, or one a lock kept from being dropped, is never emptied row by row.
    first_day = partitions.first_day_start()
    before = cutoff if first_day is None else min(cutoff, first_day)
    deleted += delete_in_batches(
        UsageRecord.objects.filter(created_at__lt=before), batch_size=batch_size
    )
    hourly_cutoff = now - timedelta(days=setting("USAGE_HOURLY_RETENTION_DAYS"))
    UsageHourly.objects.filter(hour__lt=hourly_cutoff).delete()
    TokenSighting.objects.filter(last_seen__lt=cutoff).delete()
    return deleted
