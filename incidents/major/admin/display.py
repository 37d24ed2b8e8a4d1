"""Display helpers of the major incident console: colours, durations, money, the MI timeline's sentences.

Pure presentation: nothing here reads or writes records beyond what it is handed (the narrator
resolves the user ids a page of entries mentions in one query).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from incidents.admin.display import short_duration
from incidents.major.choices import MajorIncidentState, MajorTimelineType, Role, UpdateStatus
from incidents.narration import person
from incidents.response.narration import task_sentence

S = MajorIncidentState
T = MajorTimelineType

MI_STATE_COLOURS = {
    S.PROPOSED: "warning",
    S.ACTIVE: "danger",
    S.RESOLVED: "success",
    S.IN_REVIEW: "info",
    S.CLOSED: "default",
    S.REJECTED: "default",
}
UPDATE_STATUS_COLOURS = {
    UpdateStatus.INVESTIGATING: "danger",
    UpdateStatus.IDENTIFIED: "warning",
    UpdateStatus.MONITORING: "info",
    UpdateStatus.RESOLVED: "success",
}
ROLE_LABELS = dict(Role.choices)


def duration(delta: timedelta | None) -> str:
    """A duration as people read it ('2 h 5 min'), '—' for none."""
    if delta is None:
        return "—"
    return short_duration(delta)


def money(amount: Decimal | None) -> str:
    """A cost with thousands separators and two decimals ('12,345.60'); '—' for none."""
    if amount is None:
        return "—"
    return f"{Decimal(amount):,.2f}"


def late_text(seconds: int) -> str:
    """'on time' or 'late by 12 min'."""
    return "on time" if not seconds else f"late by {short_duration(seconds)}"


class MajorNarrator:
    """Sentences for major incident timeline entries (MajorIncidentEvent rows or merged entries).

    The user ids the entries mention (roles changed) are resolved in one query for the batch.
    """

    def __init__(self, entries: Iterable[Any]) -> None:
        ids: set[int] = set()
        for entry in entries:
            data = entry.data or {}
            if entry.type == T.ROLE_CHANGED:
                ids.update(v for v in (data.get("old"), data.get("new")) if isinstance(v, int))
            if entry.type in (T.PAGED, T.ACKNOWLEDGED, T.UNANSWERED) and isinstance(data.get("user"), int):
                ids.add(data["user"])
        User = get_user_model()
        self.people = {u.pk: person(u) for u in User.objects.filter(pk__in=ids)} if ids else {}

    def _who(self, pk) -> str:
        if pk in (None, ""):
            return "nobody"
        return self.people.get(pk, f"user #{pk}")

    def sentence(self, entry: Any) -> str:
        """One human sentence for one entry."""
        data = entry.data or {}
        kind = entry.type
        if kind == T.CREATED:
            state = "Declared" if data.get("state") == S.ACTIVE else "Proposed"
            reason = data.get("reason") or ""
            return f"{state} {data.get('number', '')}" + (f": “{reason[:120]}”." if reason else ".")
        if kind == T.TRANSITION:
            source = S(data["from"]).label if data.get("from") in S.values else data.get("from")
            target = S(data["to"]).label if data.get("to") in S.values else data.get("to")
            text = f"{str(data.get('name', '')).replace('_', ' ').capitalize()}: {source} → {target}."
            if data.get("reason"):
                text += f" Reason: “{str(data['reason'])[:120]}”."
            if data.get("resolve_linked"):
                text += " Linked incidents resolved too."
            return text
        if kind == T.FIELD_CHANGED:
            field = str(data.get("field", "?")).replace("_", " ").capitalize()
            return f"{field} changed from {_value(data.get('old'))} to {_value(data.get('new'))}."
        if kind == T.ROLE_CHANGED:
            role = ROLE_LABELS.get(data.get("role"), str(data.get("role", "role")).replace("_", " "))
            return f"{role}: {self._who(data.get('old'))} → {self._who(data.get('new'))}."
        if kind == T.PAGED:
            count = data.get("page_count")
            return f"Paged {self._who(data.get('user'))}" + (f" (page {count})." if count else ".")
        if kind == T.ACKNOWLEDGED:
            return f"{self._who(data.get('user'))} acknowledged the page."
        if kind == T.UNANSWERED:
            return f"{self._who(data.get('user'))} never answered; the manager was told."
        if kind == T.UPDATE_POSTED:
            audience = str(data.get("audience", "")).capitalize()
            status = str(data.get("status", "")).replace("_", " ")
            late = data.get("late_seconds")
            return f"{audience} update posted ({status})" + (f", {late_text(late)}." if late is not None else ".")
        if kind == T.UPDATE_OVERDUE:
            return "The next stakeholder update is overdue; the leads were reminded."
        if kind in (T.LINKED, T.UNLINKED):
            verb = "Linked" if kind == T.LINKED else "Unlinked"
            return f"{verb} {data.get('number') or data.get('target', '')}."
        if kind == T.REVIEW_CHANGED:
            fields = data.get("fields") or []
            return "Review changed" + (f": {', '.join(map(str, fields))}." if fields else ".")
        if kind == T.ACTION_ITEM:
            return f"Action item {data.get('action', 'changed')}: “{str(data.get('title', ''))[:120]}”."
        if kind == T.NOTIFIED:
            return f"Notified {data.get('recipient', '')} ({data.get('event', '')} by {data.get('channel', '')})."
        if kind == T.TASK:
            return task_sentence(data)
        return ", ".join(f"{k}: {v}" for k, v in data.items())[:200]


def _value(value) -> str:
    if value in (None, "", []):
        return "empty"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    text = str(value)
    return f"“{text[:80]}…”" if len(text) > 80 else f"“{text}”"
