"""Migration operations that only apply on PostgreSQL (BRIN indexes, triggers)."""

from django.db import migrations


def postgres_only_sql(forward: str, backward: str) -> migrations.RunPython:
    """Run SQL on PostgreSQL only; the embedded SQLite default has no BRIN or plpgsql."""

    def run(sql: str):
        def apply(apps, schema_editor) -> None:
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return apply

    return migrations.RunPython(run(forward), run(backward))
