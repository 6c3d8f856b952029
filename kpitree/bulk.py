"""Bulk inserts: PostgreSQL's COPY for large batches, Django's bulk_create elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

COPY_FROM = 500  # below this, bulk_create is as fast and simpler


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert plain tuples (values in `fields` order, foreign keys as `<name>_id`)."""
    if not rows:
        return
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM:
        columns = ", ".join(
            connection.ops.quote_name(model._meta.get_field(f).column) for f in fields
        )
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    attnames = [model._meta.get_field(f).attname for f in fields]
    model.objects.bulk_create(
        [model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=1000
    )
