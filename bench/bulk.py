"""Fast inserts for scenario seeds (run inside Django, against the bench PostgreSQL database).

A million rows must take minutes, not hours: build model instances (or plain tuples) in Python
and send them in chunks of ~10,000, never one `save()` per row. `bulk_insert` uses the ORM's
`bulk_create` (defaults and `auto_now_add` are applied, no signals, no history rows);
`copy_rows` streams tuples through PostgreSQL's COPY, several times faster again, for the
biggest tables (the caller fills every NOT NULL column itself, timestamps included).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import connection, models

T = TypeVar("T")

BATCH_SIZE = 10_000


def batched(items: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    """Lists of at most `size` items, lazily (generators of a million objects stay cheap)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def bulk_insert(
    model: type[models.Model],
    objects: Iterable[models.Model],
    batch_size: int = BATCH_SIZE,
    keep: bool = False,
) -> list[models.Model] | int:
    """Insert `objects` with bulk_create, one chunk (and one autocommit) per `batch_size`.

    Returns the created instances (primary keys set) when `keep` is true, else just the count,
    so a generator of a million objects is never held in memory at once.
    """
    created: list[models.Model] = []
    count = 0
    for chunk in batched(objects, batch_size):
        model.objects.bulk_create(chunk, batch_size=batch_size)
        count += len(chunk)
        if keep:
            created.extend(chunk)
    return created if keep else count


def copy_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Stream `rows` (tuples in the order of `fields`, model field names) into the model's table
    with COPY. Omitted columns take their database default (the id sequence, for one).
    """
    if connection.vendor != "postgresql":
        raise RuntimeError("copy_rows needs PostgreSQL; use bulk_insert elsewhere")
    from psycopg import sql

    meta = model._meta
    columns = [meta.get_field(name).column for name in fields]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@functools.cache
def password_hash(password: str = "bench") -> str:
    """One hash for every seeded user: hashing per user would dominate the seed time."""
    from django.contrib.auth.hashers import make_password

    return make_password(password)


def analyze() -> None:
    """Refresh planner statistics after a big seed, as autovacuum would in production."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
