"""Fast inserts for scenario seeds (run inside Django, against the bench PostgreSQL database).

A million rows must take minutes, not hours: build model instances (or plain tuples) in Python
and send them in chunks of ~10,000, never one `save()` per row. `bulk_insert` uses the ORM's
`bulk_create` (defaults and `auto_now_add` are applied, no signals, no history rows);
`copy_rows` streams rows (dicts keyed by field name) through PostgreSQL's COPY, several times
faster again, for the biggest tables. Its column list comes from the model (`_meta.concrete_fields`),
not from the caller: a column a seed does not fill gets the field's default (evaluated per row
when it is a callable), so a field added to a model never silently breaks a seed; one that has
no default and is not nullable stops the seed with a message naming it.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CopyPlan:
    """How rows of one shape become COPY tuples: the table's columns, in the model's field order
    for those the rows fill, then those that take their field's default."""

    table: str
    columns: list[str]
    given: Callable[[Mapping[str, Any]], tuple]  # the filled values, in `columns` order
    constants: tuple  # defaults that are plain values
    per_row: tuple[Callable[[], Any], ...]  # defaults that are callables (a uuid, now())

    def row(self, values: Mapping[str, Any]) -> tuple:
        """One row's tuple for COPY."""
        return self.given(values) + self.constants + tuple(make() for make in self.per_row)


def _default(field: models.Field) -> tuple[bool, Any]:
    """(is callable, default) of a column the seed does not fill; RuntimeError if it needs a value."""
    if not (field.has_default() or field.null or (field.blank and field.empty_strings_allowed)):
        raise RuntimeError(f"{field.model.__name__}.{field.name} is required and has no default: teach the bench seed")
    dump = json.dumps if isinstance(field, models.JSONField) else (lambda value: value)
    if field.has_default() and callable(field.default):
        return True, lambda: dump(field.get_default())
    return False, dump(field.get_default())


def copy_plan(model: type[models.Model], keys: Iterable[str]) -> CopyPlan:
    """The COPY plan of `model` for rows holding `keys` (field names or attnames, e.g. `incident`
    or `incident_id`). Columns nobody fills are omitted when the database fills them (an
    auto-increment primary key, a `db_default`), else take their field's default."""
    keys = set(keys)
    meta = model._meta
    known = {name for f in meta.concrete_fields for name in (f.name, f.attname)}
    unknown = keys - known
    if unknown:
        raise RuntimeError(f"{model.__name__} has no field(s) {', '.join(sorted(unknown))}: the seed is out of date")
    given_columns, given_keys, default_columns, constants, per_row_columns, per_row = [], [], [], [], [], []
    for f in meta.concrete_fields:
        key = f.name if f.name in keys else f.attname if f.attname in keys else None
        if key is not None:
            given_columns.append(f.column)
            given_keys.append(key)
            continue
        if f.primary_key or getattr(f, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED:
            continue
        is_callable, default = _default(f)
        if is_callable:
            per_row_columns.append(f.column)
            per_row.append(default)
        else:
            default_columns.append(f.column)
            constants.append(default)
    if not given_keys:
        raise RuntimeError(f"rows for {model.__name__} fill no column")
    getter = operator.itemgetter(*given_keys)
    given = getter if len(given_keys) > 1 else (lambda values: (getter(values),))
    return CopyPlan(
        table=meta.db_table,
        columns=given_columns + default_columns + per_row_columns,
        given=given,
        constants=tuple(constants),
        per_row=tuple(per_row),
    )


def copy_rows(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """Stream `rows` (dicts keyed by field name, all with the same keys) into the model's table
    with COPY; the columns come from the model (see `copy_plan`). Returns the row count."""
    if connection.vendor != "postgresql":
        raise RuntimeError("copy_rows needs PostgreSQL; use bulk_insert elsewhere")
    from psycopg import sql

    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    plan = copy_plan(model, first.keys())
    width = len(first)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(plan.table), sql.SQL(", ").join(map(sql.Identifier, plan.columns))
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in itertools.chain([first], iterator):
            if len(row) != width:
                raise RuntimeError(f"rows for {model.__name__} differ in their keys: {sorted(row)} vs {sorted(first)}")
            copy.write_row(plan.row(row))
            count += 1
    return count


@functools.cache
def password_hash(password: str = "bench") -> str:
    """One hash for every seeded user: hashing per user would dominate the seed time."""
    from django.contrib.auth.hashers import make_password

    return make_password(password)


def seed_users(prefix: str, count: int, staff: bool = True, roles: Sequence[str] = ()) -> list[models.Model]:
    """`count` users `<prefix>-<i>` (first name: the prefix's last word, e.g. "Agent"), sharing
    one password hash; each holds one of the role groups `roles`, round-robin. Returns them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    User = get_user_model()
    now = timezone.now()
    users = bulk_insert(
        User,
        (
            User(
                username=f"{prefix}-{i}",
                first_name=prefix.split("-")[-1].title(),
                last_name=f"No. {i}",
                email=f"{prefix}-{i}@example.com",
                is_staff=staff,
                password=password_hash(),
                date_joined=now,
            )
            for i in range(count)
        ),
        keep=True,
    )
    role_ids = list(Group.objects.filter(name__in=roles).values_list("id", flat=True))
    if role_ids:
        User.groups.through.objects.bulk_create(
            User.groups.through(user_id=user.pk, group_id=role_ids[i % len(role_ids)]) for i, user in enumerate(users)
        )
    return users


def analyze() -> None:
    """Refresh planner statistics after a big seed, as autovacuum would in production."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
