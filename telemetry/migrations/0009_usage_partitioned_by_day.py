"""PostgreSQL: the usage log becomes a table partitioned by day (telemetry.partitions), every row,
id and index kept; backwards, a plain table again. SQLite keeps its plain table.

The table is rebuilt rather than altered (PostgreSQL cannot partition a table in place): the
old one is renamed, the new one made beside it with the same columns, defaults and identity,
the rows copied, the identity carried on from where the old sequence stood (the detection
watermark is an id: a restart at 1 would hide new rows below it), the old table dropped, and
its constraints and indexes made again under their own names, on the parent (so on every
partition). All in the migration's transaction: a failure leaves the old table as it was.

The primary key becomes (id, created_at): a partitioned table's unique keys must hold the
partition column. id stays unique by its sequence; Django's state still calls id the key.

Day partitions are made from the first day with rows (at most 120 days back: older rows wait
in the default partition for retention) to a week ahead.
"""

from datetime import UTC, datetime, time, timedelta

from django.db import migrations

TABLE = "telemetry_usagerecord"
OLD = f"{TABLE}_rebuilt"
DEFAULT = f"{TABLE}_default"
MAX_DAYS_BACK = 120
DAYS_AHEAD = 7


def fetch(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def definitions(cursor, table):
    """The table's constraints but its primary key (name, definition) and its other indexes
    (definitions), read before the table goes."""
    constraints = fetch(
        cursor,
        """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype <> 'p' AND NOT (contype = 'n')
        ORDER BY contype, conname
        """,
        [table],
    )
    indexes = fetch(
        cursor,
        """
        SELECT indexdef FROM pg_indexes WHERE tablename = %s AND schemaname = current_schema()
          AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)
        ORDER BY indexname
        """,
        [table, table],
    )
    (primary_key,) = fetch(
        cursor,
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [table],
    )[0]
    # "ON ONLY" (a partitioned parent's own index) would not reach the partitions.
    return primary_key, constraints, [d.replace(" ON ONLY ", " ON ") for (d,) in indexes]


def day_partitions(cursor):
    today = datetime.now(UTC).date()
    (first,) = fetch(cursor, f"SELECT min(created_at) FROM {OLD}")[0]  # noqa: S608
    start = today - timedelta(days=1)
    if first is not None:
        start = max(min(first.astimezone(UTC).date(), start), today - timedelta(days=MAX_DAYS_BACK))
    day = start
    while day <= today + timedelta(days=DAYS_AHEAD):
        lo = datetime.combine(day, time.min, tzinfo=UTC)
        cursor.execute(
            f'CREATE TABLE "{TABLE}_p{day:%Y%m%d}" PARTITION OF "{TABLE}" '
            "FOR VALUES FROM (%s) TO (%s)",
            [lo, lo + timedelta(days=1)],
        )
        day += timedelta(days=1)


def rebuild(schema_editor, *, partitioned: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        (kind,) = fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])[0]
        if (kind == "p") == partitioned:
            return
        primary_key, constraints, indexes = definitions(cursor, TABLE)
        (sequence,) = fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0]
        (last_value, is_called) = fetch(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]  # noqa: S608
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{OLD}"')
        by_day = " PARTITION BY RANGE (created_at)" if partitioned else ""
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{OLD}" INCLUDING DEFAULTS INCLUDING IDENTITY){by_day}'
        )
        if partitioned:
            cursor.execute(f'CREATE TABLE "{DEFAULT}" PARTITION OF "{TABLE}" DEFAULT')
            day_partitions(cursor)
        cursor.execute(f'INSERT INTO "{TABLE}" SELECT * FROM "{OLD}"')  # noqa: S608
        copied = cursor.rowcount
        (before,) = fetch(cursor, f'SELECT count(*) FROM "{OLD}"')[0]  # noqa: S608
        if copied != before:
            raise RuntimeError(f"copied {copied} usage rows of {before}: nothing changed")
        (new_sequence,) = fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0]
        cursor.execute("SELECT setval(%s, %s, %s)", [new_sequence, last_value, is_called])
        cursor.execute(f'DROP TABLE "{OLD}"')
        # Made while the old one still held the name: take it back.
        cursor.execute(f"ALTER SEQUENCE {new_sequence} RENAME TO {sequence.split('.')[-1]}")
        key = "id, created_at" if partitioned else "id"
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{primary_key}" PRIMARY KEY ({key})')
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')
        for definition in indexes:
            cursor.execute(definition)


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0008_usage_request_unique_with_day")]

    operations = [
        migrations.RunPython(
            lambda apps, schema_editor: rebuild(schema_editor, partitioned=True),
            lambda apps, schema_editor: rebuild(schema_editor, partitioned=False),
        ),
    ]
