"""A read-only admin inline for any practice's timeline (a subclass of `itsm.models.TimelineEntry`).

    class ProblemTimelineInline(TimelineInline):
        model = ProblemEvent
        narrator_class = ProblemNarrator   # optional: sentences instead of compact data

Nobody adds, changes or deletes entries here (whatever their model permissions say); entries are
shown newest first, `per_page` at a time (Unfold's inline pagination), with the actor, the type,
the time and one line of text per entry. The line is the practice's narration when it gives a
`narrator_class` (built once per page with that page's entries, so it can resolve the ids they
mention in one query per model), else the entry's data in compact form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import TabularInline
from unfold.decorators import display
from unfold.forms import PaginationInlineFormSet

from itsm.models import TimelineEntry

COMPACT_LIMIT = 160


class Narrator(Protocol):
    """What a practice's narration offers: built from a page of entries, one sentence per entry."""

    def __init__(self, entries: list[Any]) -> None: ...

    def sentence(self, entry: Any) -> str:
        """One human sentence for one entry."""
        ...


def compact(data: Any, limit: int = COMPACT_LIMIT) -> str:
    """An entry's data on one line (`field: priority, old: 3, new: 2`), cut at `limit` characters."""
    if isinstance(data, dict):
        text = ", ".join(f"{key}: {value}" for key, value in data.items())
    else:
        text = "" if data is None else str(data)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def actor_name(user: Any) -> str:
    """The actor as people read it: full name, else username; "system" for no one."""
    if user is None:
        return "system"
    return user.get_full_name() or user.get_username()


class TimelineInlineFormSet(PaginationInlineFormSet):
    """Unfold's paginated inline formset that narrates the page it shows, in one batch."""

    narrate: ClassVar[Any] = None  # set per request by `TimelineInline.get_formset`

    def get_queryset(self) -> Sequence[TimelineEntry]:
        """The page's entries, each with its `timeline_text` (evaluated once)."""
        if not getattr(self, "_narrated", False):
            entries = list(super().get_queryset())
            texts = self.narrate(entries) if self.narrate is not None else {}
            for entry in entries:
                entry.timeline_text = texts.get(entry.pk, "")
            self._queryset = entries
            self._narrated = True
        return self._queryset


class TimelineInline(TabularInline):
    """Read-only inline of a record's timeline: newest first, paginated, narrated or compact.

    Subclasses set `model` (a TimelineEntry subclass whose record foreign key points at the
    admin's model) and may set `narrator_class`, `per_page` and `ordering`.
    """

    formset = TimelineInlineFormSet
    narrator_class: ClassVar[type[Narrator] | None] = None
    fields = ("at", "type", "actor_display", "entry_display")
    readonly_fields = fields
    ordering = ("-id",)
    per_page = 20
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name = "timeline entry"
    verbose_name_plural = "timeline"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: entries are written by the practice's services only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: entries are append-only."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: entries are append-only."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """The timeline model's entries, ordered, with their actors (one query per page)."""
        return super().get_queryset(request).select_related("actor")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> type[TimelineInlineFormSet]:
        """The formset class, told how to narrate a page (a fresh class per call, so safe to set)."""
        formset = super().get_formset(request, obj, **kwargs)
        formset.narrate = self.narrate
        return formset

    def narrate(self, entries: list[TimelineEntry]) -> dict[Any, str]:
        """Each entry's line of text by primary key: the narrator's sentence, else compact data."""
        if self.narrator_class is None:
            return {entry.pk: compact(entry.data) for entry in entries}
        narrator = self.narrator_class(entries)
        return {entry.pk: narrator.sentence(entry) for entry in entries}

    @display(description="actor")
    def actor_display(self, obj: TimelineEntry) -> str:
        """Who did it ("system" for no one)."""
        return actor_name(obj.actor)

    @display(description="entry")
    def entry_display(self, obj: TimelineEntry) -> str:
        """The entry's sentence or compact data."""
        text = getattr(obj, "timeline_text", None)
        return text if text is not None else compact(obj.data)
