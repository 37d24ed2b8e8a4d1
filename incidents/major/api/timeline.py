"""The merged timeline's pagination and its Markdown rendering.

The merged timeline is a `UNION ALL` of several timelines (`incidents.major.history`), which
Django cannot filter after the union, so DRF's cursor pagination does not apply. This one
seeks instead: the cursor holds the position of the last entry shown (`at`, source, id), each
source is filtered to what lies after (or before) it, and the union is limited to a page.
Page 5,000 costs what page 1 costs, as with every cursor-paginated list.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import Q
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from incidents.major import history
from incidents.major.models import MajorIncident
from itsm.api.filters import ID_MAX
from itsm.api.pagination import CursorPagination
from itsm.timeline import MergedEntry, TimelineSource, merged_queryset

Position = tuple[datetime, int, int]  # (at, source index, id): the order of the merged timeline


def _after(position: Position, index: int) -> Q:
    at, source, pk = position
    if index > source:
        return Q(at__gte=at)
    if index < source:
        return Q(at__gt=at)
    return Q(at__gt=at) | Q(at=at, id__gt=pk)


def _before(position: Position, index: int) -> Q:
    at, source, pk = position
    if index < source:
        return Q(at__lte=at)
    if index > source:
        return Q(at__lt=at)
    return Q(at__lt=at) | Q(at=at, id__lt=pk)


class MergedTimelinePagination(CursorPagination):
    """Seek pagination over the merged timeline, oldest first; `next` and `previous` cursors."""

    ordering = "at"

    def _decode(self, request) -> tuple[str, Position] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            direction, at, source, pk = base64.urlsafe_b64decode(raw.encode("ascii")).decode("ascii").split("|")
            moment, index, entry_id = datetime.fromisoformat(at), int(source), int(pk)
            if (
                direction not in ("a", "b")
                or moment.tzinfo is None
                or not 0 <= index < 16
                or not 0 < entry_id <= ID_MAX
            ):
                raise ValueError(raw)
            return direction, (moment, index, entry_id)
        except (ValueError, UnicodeError, binascii.Error) as exc:
            raise NotFound("Invalid cursor.") from exc

    def _encode(self, direction: str, entry: MergedEntry, index: int) -> str:
        text = f"{direction}|{entry.at.isoformat()}|{index}|{entry.id}"
        query = self.request.query_params.copy()
        query[self.cursor_query_param] = base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii")
        return self.request.build_absolute_uri(f"{self.request.path}?{urlencode(query, doseq=True)}")

    def paginate_sources(self, sources: list[TimelineSource], request) -> list[MergedEntry]:
        """One page of the merged `sources` (each entry carries its source's index in `_index`)."""
        self.request = request
        self.page_size = self.get_page_size(request)
        cursor = self._decode(request)
        backwards = cursor is not None and cursor[0] == "b"
        if cursor is not None:
            seek = _before if backwards else _after
            sources = [TimelineSource(s.label, s.queryset.filter(seek(cursor[1], i))) for i, s in enumerate(sources)]
        rows = merged_queryset(*sources)
        if backwards:
            rows = rows.order_by("-at", "-timeline_source", "-id")
        rows = list(rows[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        entries = []
        for index, record_id, pk, type_, actor_id, at, data in rows:
            source = sources[index]
            entry = MergedEntry(source.label, source.queryset.model, record_id, pk, type_, actor_id, at, data)
            entries.append((index, entry))
        self._indexes = [index for index, _ in entries]
        self._entries = [entry for _, entry in entries]
        # Forward: a next page if more rows follow; a previous one if we came from somewhere.
        has_next = more if not backwards else cursor is not None
        has_previous = (cursor is not None) if not backwards else more
        self._next = self._encode("a", self._entries[-1], self._indexes[-1]) if has_next and entries else None
        self._previous = self._encode("b", self._entries[0], self._indexes[0]) if has_previous and entries else None
        return self._entries

    def get_paginated_response(self, data):
        return Response({"next": self._next, "previous": self._previous, "results": data})


def timeline_rows(mi: MajorIncident, entries: list[MergedEntry]) -> list[dict]:
    """The API's entries: {id, type, actor, at, data, record (number)}; one query for the numbers."""
    numbers = history.record_numbers(mi, entries)
    return [
        {
            "id": e.id,
            "type": e.type,
            "actor": e.actor_id,
            "at": e.at,
            "data": e.data,
            "record": numbers.get((e.source, e.record_id), ""),
        }
        for e in entries
    ]


class MarkdownRenderer(BaseRenderer):
    """`text/markdown` (`?format=markdown`): the view hands it the Markdown text; errors as plain text."""

    media_type = "text/markdown"
    format = "markdown"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        if isinstance(data, dict) and "detail" in data:
            return f"{data['detail']}\n".encode(self.charset)
        return b""
