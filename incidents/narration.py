"""Timeline events told as sentences ("Reassigned from Service Desk / nobody to Network / Bob.").

Pure reading: no admin or API imports, so the console, the API and the post-incident review can
all narrate a timeline. Every id an event mentions is resolved in one query per model for the
whole batch, never per event.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model

from incidents.choices import IncidentState, TimelineType, Transition, Visibility
from incidents.models import Incident, TimelineEvent
from incidents.response.narration import task_sentence
from itsm.choices import Impact, Priority, SlaKind, Urgency
from itsm.models import AssignmentGroup, Category, Service, SlaPolicy

User = get_user_model()


def person(user) -> str:
    """A user's name as people read it (full name, else username); '' for nobody."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


FIELD_MODELS = {
    "service": Service,
    "category": Category,
    "assignment_group": AssignmentGroup,
    "caller": User,
    "assignee": User,
    "parent": Incident,
}
FIELD_CHOICES = {"impact": Impact, "urgency": Urgency, "priority": Priority}


class TimelineNarrator:
    """Turns timeline events into sentences, resolving every id they mention in one query per model."""

    def __init__(self, events: list[TimelineEvent]) -> None:
        wanted: dict[type, set] = defaultdict(set)
        for event in events:
            data = event.data or {}
            if event.type == TimelineType.FIELD_CHANGED and data.get("field") in FIELD_MODELS:
                wanted[FIELD_MODELS[data["field"]]].update(v for v in (data.get("old"), data.get("new")) if v)
            elif event.type == TimelineType.ASSIGNED:
                wanted[AssignmentGroup].update(v for v in (data.get("old_group"), data.get("group")) if v)
                wanted[User].update(v for v in (data.get("old_assignee"), data.get("assignee")) if v)
            elif event.type in (TimelineType.WATCHER_ADDED, TimelineType.WATCHER_REMOVED) and data.get("user"):
                wanted[User].add(data["user"])
            elif event.type in (TimelineType.LINKED, TimelineType.UNLINKED) and isinstance(data.get("target"), int):
                if data.get("kind") in ("parent", "child"):
                    wanted[Incident].add(data["target"])
            elif event.type == TimelineType.SLA and data.get("policy"):
                wanted[SlaPolicy].add(data["policy"])
        self.names: dict[type, dict[Any, str]] = {}
        for model, ids in wanted.items():
            ids = {i for i in ids if isinstance(i, int)}
            if model is Incident:
                rows = Incident.objects.filter(pk__in=ids).values_list("pk", "number")
                self.names[model] = dict(rows)
            elif model is User:
                self.names[model] = {u.pk: person(u) for u in User.objects.filter(pk__in=ids)}
            else:
                self.names[model] = {o.pk: str(o) for o in model.objects.filter(pk__in=ids)}

    def _name(self, model: type, pk) -> str:
        if pk in (None, ""):
            return "nobody" if model is User else "none"
        return self.names.get(model, {}).get(pk, f"#{pk}")

    def _value(self, field: str, value) -> str:
        if field in FIELD_MODELS:
            return self._name(FIELD_MODELS[field], value)
        if field in FIELD_CHOICES and value is not None:
            try:
                return str(FIELD_CHOICES[field](value).label)
            except ValueError:
                return str(value)
        if field == "tags":
            return ", ".join(value or []) or "none"
        if value in (None, ""):
            return "empty"
        text = str(value)
        return f"“{text[:80]}…”" if len(text) > 80 else f"“{text}”"

    def sentence(self, event: TimelineEvent) -> str:
        """One human sentence for one event."""
        data = event.data or {}
        kind = event.type
        if kind == TimelineType.CREATED:
            priority = FIELD_CHOICES["priority"](data["priority"]).label if data.get("priority") else "?"
            return f"Opened {data.get('number', '')} via {data.get('channel', 'unknown channel')} as {priority}."
        if kind == TimelineType.FIELD_CHANGED:
            field = data.get("field", "?")
            label = field.replace("_", " ").capitalize()
            if field == "description":
                return "Description changed."
            return (
                f"{label} changed from {self._value(field, data.get('old'))} to {self._value(field, data.get('new'))}."
            )
        if kind == TimelineType.ASSIGNED:
            new = f"{self._name(AssignmentGroup, data.get('group'))} / {self._name(User, data.get('assignee'))}"
            if data.get("old_group") is None and data.get("old_assignee") is None:
                return f"Assigned to {new}."
            old = f"{self._name(AssignmentGroup, data.get('old_group'))} / {self._name(User, data.get('old_assignee'))}"
            return f"Reassigned from {old} to {new}."
        if kind == TimelineType.TRANSITION:
            name = data.get("name", "")
            label = Transition(name).label if name in Transition.values else name
            source = IncidentState(data["from"]).label if data.get("from") in IncidentState.values else data.get("from")
            target = IncidentState(data["to"]).label if data.get("to") in IncidentState.values else data.get("to")
            return f"{label}: {source} → {target}."
        if kind == TimelineType.COMMENTED:
            if data.get("visibility") == Visibility.PUBLIC:
                return "Added a public comment."
            return "Added an internal work note."
        if kind == TimelineType.WATCHER_ADDED:
            return f"{self._name(User, data.get('user'))} now watches this incident."
        if kind == TimelineType.WATCHER_REMOVED:
            return f"{self._name(User, data.get('user'))} stopped watching this incident."
        if kind in (TimelineType.LINKED, TimelineType.UNLINKED):
            verb = "Linked to" if kind == TimelineType.LINKED else "Unlinked from"
            target = data.get("target")
            if data.get("kind") in ("parent", "child"):
                target = self._name(Incident, target)
            return f"{verb} {data.get('kind', 'record')} {target}."
        if kind == TimelineType.SLA:
            clock = SlaKind(data["kind"]).label if data.get("kind") in SlaKind.values else "SLA"
            policy_name = self._name(SlaPolicy, data.get("policy"))
            event = data.get("event", "")
            if event == "warning":
                return f"{clock} SLA at {data.get('percent')}% of its target ({policy_name})."
            if event == "breached":
                return f"{clock} SLA breached ({policy_name})."
            return f"{clock} SLA {event} ({policy_name})."
        if kind == TimelineType.ALERT:
            return f"Alert received again: {data.get('count')} occurrences, last seen {data.get('last_seen')}."
        if kind == TimelineType.NOTIFIED:
            return f"Notified {data.get('recipient')} by {data.get('channel')} ({data.get('event')})."
        if kind == TimelineType.TASK:
            return task_sentence(data)
        if kind == TimelineType.WORKAROUND_APPLIED:
            return f"Workaround of known error #{data.get('known_error')} applied."
        return f"{event.get_type_display()}: {data}"
