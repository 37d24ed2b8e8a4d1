"""Display helpers of the problem console: colours and timeline sentences.

Pure presentation: nothing here writes; the narrator resolves the ids a page of events mentions
in one query per model.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from incidents.narration import person
from itsm.models import AssignmentGroup, Category, Service
from problems.choices import KnownErrorState, ProblemState, ProblemTimelineType, RcaMethod

S = ProblemState
T = ProblemTimelineType

PROBLEM_STATE_COLOURS = {
    S.NEW: "info",
    S.INVESTIGATING: "primary",
    S.KNOWN_ERROR: "warning",
    S.RESOLVED: "success",
    S.CLOSED: "default",
    S.CANCELLED: "default",
}
KNOWN_ERROR_COLOURS = {KnownErrorState.PUBLISHED: "success", KnownErrorState.RETIRED: "default"}
TRANSITION_ICONS = {
    "investigate": "search",
    "mark_known_error": "menu_book",
    "resolve": "task_alt",
    "close": "lock",
    "cancel": "block",
}
# Foreign keys a `field_changed` event names by id, and the model to read their names from.
FK_MODELS = {"service": Service, "category": Category, "assignment_group": AssignmentGroup}
LONG_TEXT = 80


def rca_notes_text(method: str, notes: dict | None) -> str:
    """The structured RCA notes as lines people read (five whys, fishbone by category, or text)."""
    notes = notes or {}
    if method == RcaMethod.FIVE_WHYS:
        return "\n".join(
            f"{n}. Why? {w.get('why', '')} — {w.get('answer', '')}" for n, w in enumerate(notes.get("whys", []), 1)
        )
    if method == RcaMethod.FISHBONE:
        return "\n".join(f"{cat.capitalize()}: {'; '.join(causes)}" for cat, causes in notes.get("causes", {}).items())
    return notes.get("text", "") if isinstance(notes.get("text"), str) else ""


def _short(value) -> str:
    text = "—" if value in (None, "", [], {}) else str(value)
    return text if len(text) <= LONG_TEXT else text[: LONG_TEXT - 1] + "…"


class ProblemNarrator:
    """One sentence per problem timeline event (built once per page of events)."""

    def __init__(self, events: list) -> None:
        wanted: dict[type, set] = {}
        users = set()
        for event in events:
            data = event.data or {}
            if event.type == T.FIELD_CHANGED:
                model = FK_MODELS.get(data.get("field"))
                ids = {v for v in (data.get("old"), data.get("new")) if isinstance(v, int)}
                if model is not None:
                    wanted.setdefault(model, set()).update(ids)
                elif data.get("field") == "owner":
                    users |= ids
        self.names: dict[tuple[type, int], str] = {}
        for model, ids in wanted.items():
            for pk, name in model.objects.filter(pk__in=ids).values_list("pk", "name"):
                self.names[(model, pk)] = name
        User = get_user_model()
        for user in User.objects.filter(pk__in=users) if users else []:
            self.names[(User, user.pk)] = person(user)

    def _value(self, field: str, value) -> str:
        model = FK_MODELS.get(field) or (get_user_model() if field == "owner" else None)
        if model is not None and isinstance(value, int):
            return self.names.get((model, value), f"#{value}")
        return _short(value)

    def sentence(self, event) -> str:
        data = event.data or {}
        kind = "major incident" if data.get("kind") == "major_incident" else "incident"
        if event.type == T.CREATED:
            return f"Opened {data.get('number', '')} ({data.get('source', '')})."
        if event.type == T.FIELD_CHANGED:
            field = str(data.get("field", "")).replace("_", " ")
            old, new = self._value(data.get("field"), data.get("old")), self._value(data.get("field"), data.get("new"))
            return f"{field.capitalize()} changed from “{old}” to “{new}”."
        if event.type == T.TRANSITION:
            text = f"{str(data.get('name', '')).replace('_', ' ').capitalize()}: {data.get('from')} → {data.get('to')}."
            if data.get("reason"):
                text += f" Reason: {_short(data['reason'])}"
            if data.get("resolved_incidents"):
                text += f" Resolved {len(data['resolved_incidents'])} linked incident(s)."
            return text
        if event.type == T.LINKED:
            return f"Linked {kind} {data.get('number', '')}."
        if event.type == T.UNLINKED:
            moved = " (moved to another problem)" if data.get("moved_to") else ""
            return f"Unlinked {kind} {data.get('number', '')}{moved}."
        if event.type == T.KNOWN_ERROR:
            return f"Known error article {data.get('known_error')} {data.get('event', '')}."
        if event.type == T.WORKAROUND_APPLIED:
            target = f"incident #{data['incident']}" if data.get("incident") else "a caller (self-service)"
            return f"Workaround of known error {data.get('known_error')} applied to {target}."
        if event.type == T.RECURRENCE:
            return f"Recurrence: {data.get('number', '')} linked after the fix."
        if event.type == T.NOTIFIED:
            return f"Notified {data.get('recipient', '')} of {data.get('event', '')} ({data.get('channel', '')})."
        return ", ".join(f"{k}: {_short(v)}" for k, v in data.items())
