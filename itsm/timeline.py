"""Writing and reading append-only timelines (subclasses of `itsm.models.TimelineEntry`).

`Timeline(Model)` writes one practice's entries: `row()` builds an unsaved entry for bulk
inserts, `write()` inserts one, `write_many()` inserts many in one statement. A practice keeps
one writer per timeline model and its own functions per event type on top (`incidents.events`).

`merged()` reads several timelines as one, for example a major incident and its linked
incidents in the post-incident review: one `UNION ALL` of the sources' rows, ordered and limited
in the database, whatever models the sources are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db import models
from django.db.models import F, IntegerField, QuerySet, Value

from itsm.models import TimelineEntry

E = TypeVar("E", bound=TimelineEntry)

# The columns of a merged timeline, in the order every source selects them.
MERGED_COLUMNS = ("timeline_source", "timeline_record", "id", "type", "actor_id", "at", "data")


def record_field_of(model: type[TimelineEntry]) -> models.ForeignKey:
    """The foreign key a timeline model names in `record_field` (ImproperlyConfigured-style check)."""
    name = getattr(model, "record_field", "")
    if not name:
        raise TypeError(f"{model.__name__} must name its record foreign key in `record_field`.")
    field = model._meta.get_field(name)
    if not isinstance(field, models.ForeignKey):
        raise TypeError(f"{model.__name__}.{name} is not a foreign key.")
    return field


class Timeline(Generic[E]):
    """The writer of one timeline model: entries of `model` about the record in its `record_field`."""

    def __init__(self, model: type[E]) -> None:
        if not issubclass(model, TimelineEntry) or model._meta.abstract:
            raise TypeError(f"{model!r} is not a concrete TimelineEntry subclass.")
        self.model = model
        self.record_field = record_field_of(model)

    def row(self, record: models.Model | int, type: str, actor: Any, data: dict, at: datetime | None = None) -> E:
        """An unsaved entry (`at` defaults to now when it is saved), for `write_many()`.

        `record` is the record instance or its primary key; `actor` is a user, or anything
        without a primary key (None, an anonymous user) for the system.
        """
        field = self.record_field
        kwargs: dict[str, Any] = {
            field.name if isinstance(record, models.Model) else field.attname: record,
            "type": type,
            "actor": actor if getattr(actor, "pk", None) else None,
            "data": data,
        }
        if at is not None:
            kwargs["at"] = at
        return self.model(**kwargs)

    def write(self, record: models.Model | int, type: str, actor: Any, data: dict, at: datetime | None = None) -> E:
        """Insert one entry (always an INSERT) and return it."""
        entry = self.row(record, type, actor, data, at)
        entry.save(force_insert=True)
        return entry

    def write_many(self, rows: Iterable[E]) -> list[E]:
        """Insert unsaved entries of this model in one statement, in the given order."""
        rows = list(rows)
        for entry in rows:
            if type(entry) is not self.model or entry.pk is not None:
                raise ValueError(f"write_many() takes unsaved {self.model.__name__} rows, got {entry!r}.")
        if not rows:
            return rows
        return self.model._default_manager.bulk_create(rows)


@dataclass(frozen=True)
class TimelineSource:
    """One part of a merged timeline: entries of one TimelineEntry subclass, under a label.

    `queryset` may filter (`TimelineEvent.objects.filter(incident__in=linked)`), but not slice;
    its own ordering is ignored.
    """

    label: str
    queryset: QuerySet


@dataclass(frozen=True)
class MergedEntry:
    """One entry of a merged timeline: which source, which record, and the entry's own columns."""

    source: str
    model: type[TimelineEntry]
    record_id: int
    id: int
    type: str
    actor_id: int | None
    at: datetime
    data: dict

    def get_type_display(self) -> str:
        """The type's label from the source model's choices (the type itself if it has none)."""
        choices = dict(self.model._meta.get_field("type").flatchoices)
        return str(choices.get(self.type, self.type))


def _columns(index: int, queryset: QuerySet) -> QuerySet:
    model = queryset.model
    if not (isinstance(model, type) and issubclass(model, TimelineEntry)):
        raise TypeError(f"{model!r} is not a TimelineEntry subclass.")
    if queryset.query.is_sliced:
        raise ValueError("A merged timeline's sources may filter but not slice; limit the merged result.")
    return (
        queryset.order_by()
        .annotate(
            timeline_source=Value(index, output_field=IntegerField()),
            timeline_record=F(record_field_of(model).attname),
        )
        .values_list(*MERGED_COLUMNS)
    )


def merged_queryset(*sources: TimelineSource) -> QuerySet:
    """The sources' entries as one ordered `UNION ALL` queryset of `MERGED_COLUMNS` tuples.

    Ordered by `at`, then source order (the position of the source in the call), then `id`.
    Slice it (LIMIT/OFFSET) or count it like any queryset; `merged()` turns rows into entries.
    """
    if not sources:
        raise ValueError("merged_queryset() needs at least one source.")
    first, *rest = (_columns(i, s.queryset) for i, s in enumerate(sources))
    combined = first.union(*rest, all=True) if rest else first
    return combined.order_by("at", "timeline_source", "id")


def merged(*sources: TimelineSource, limit: int | None = None, offset: int = 0) -> list[MergedEntry]:
    """Several timelines as one list, oldest first (ties: source order, then id), read in one query.

    `limit` and `offset` are applied in the database; no entry beyond them is loaded.
    """
    rows = merged_queryset(*sources)
    if offset or limit is not None:
        rows = rows[offset : None if limit is None else offset + limit]
    return [
        MergedEntry(
            source=sources[source].label,
            model=sources[source].queryset.model,
            record_id=record_id,
            id=pk,
            type=type_,
            actor_id=actor_id,
            at=at,
            data=data,
        )
        for source, record_id, pk, type_, actor_id, at, data in rows
    ]
