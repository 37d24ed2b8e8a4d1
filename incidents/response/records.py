"""The records a task can belong to: a small registry the task use cases, API and console go through.

A task hangs on exactly one record (constraint `task_on_one_record`). Each record kind says here
how tasks treat it: its model and the task's foreign key, whether it takes new tasks now, who
views and manages its tasks, whether a task's own assignee (or group) may move or edit it, how a
`task` row is written on its timeline, what the owner's notification carries, and its console
address. The incident and the major incident are built in; practices to the right of incidents
register their own kind (`problems.worktask_records.register()` from its app's ready()), so this
package never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import NoReverseMatch, reverse

from communications.subject import Subject
from incidents import events as incident_events
from incidents import notify as incident_notify
from incidents import policy as incident_policy
from incidents.choices import TERMINAL_STATES, TimelineType
from incidents.major import events as major_events
from incidents.major import notify as major_notify
from incidents.major import policy as major_policy
from incidents.major.choices import MajorIncidentState, MajorTimelineType
from incidents.major.models import MajorIncident
from incidents.models import Incident
from incidents.policy import ALLOW, Decision


@dataclass(frozen=True)
class RecordKind:
    """What tasks need to know about one kind of record.

    `name` is also the Task foreign key ("incident", "major_incident", "problem"); `key` the
    console's path segment. Callables take the record (and the user where it says so).
    """

    name: str
    key: str
    model: type[models.Model]
    label: str
    # Why the record takes no new task now ("" when it does): a 409.
    refuses_tasks: Callable[[Any], str]
    can_view: Callable[[Any, Any], Decision]
    # Add tasks and change any of them (the reason names the record).
    can_manage: Callable[[Any, Any], Decision]
    write_task_row: Callable[[int, Any, dict], Any]
    context: Callable[[Any], dict]
    subject: Callable[[Any], Subject]
    # Note queued notifications on the record's timeline: (record, event_type, notifications).
    note_notified: Callable[[Any, str, list], None]
    console_url: Callable[[Any], str]
    # Task kinds this record takes (`Task.kind`); the first is the default.
    task_kinds: tuple[str, ...] = ("",)
    # The task's own assignee (or a member of its group) may start / complete / cancel it...
    owner_moves_own: bool = False
    # ...and edit its fields.
    owner_edits_own: bool = False
    # `blocking` means something on this record (the major incident's resolve waits for it).
    has_blocking: bool = False


_KINDS: dict[str, RecordKind] = {}


def register(kind: RecordKind) -> None:
    """Add (or replace, by name: registering twice is harmless) a record kind."""
    _KINDS[kind.name] = kind


def kinds() -> list[RecordKind]:
    """Every registered kind, built-ins first."""
    return list(_KINDS.values())


def by_key(key: str) -> RecordKind | None:
    """The kind whose console path segment is `key`."""
    return next((k for k in _KINDS.values() if k.key == key), None)


def for_record(record) -> RecordKind:
    """The kind of `record`; a ValidationError when tasks cannot belong to it."""
    for kind in _KINDS.values():
        if isinstance(record, kind.model):
            return kind
    names = ", ".join(k.label for k in _KINDS.values())
    raise ValidationError({"record": [f"Tasks belong to one of: {names}."]})


def for_task(task) -> RecordKind:
    """The kind of the record `task` belongs to."""
    for kind in _KINDS.values():
        if getattr(task, f"{kind.name}_id", None):
            return kind
    raise ValueError(f"Task {task.pk} belongs to no registered record kind.")


def record_id(task) -> int:
    """The id of the task's record."""
    return getattr(task, f"{for_task(task).name}_id")


def on(record) -> dict:
    """`{foreign key: record}`: the filter (and create arguments) of `record`'s tasks."""
    return {for_record(record).name: record}


def related() -> list[str]:
    """Every record foreign key, for `select_related`."""
    return [k.name for k in _KINDS.values()]


def attach(tasks, record) -> None:
    """Set `record` on each of `tasks` (read with it) so nothing fetches it again."""
    name = for_record(record).name
    for task in tasks:
        setattr(task, name, record)


def _console(viewname: str, record, fallback: str) -> str:
    try:
        return reverse(viewname, args=[record.pk])
    except NoReverseMatch:
        return fallback


# --- built-in kinds -----------------------------------------------------------------------------------
def _incident_manage(user, incident) -> Decision:
    decision = incident_policy.can_update(user, incident)
    if not decision:
        return Decision(False, f"You may not manage tasks of {incident.number}: {decision.reason}")
    return ALLOW


def _major_manage(user, mi) -> Decision:
    if major_policy.can_run(user, mi):
        return ALLOW
    return Decision(False, f"Only Major Incident Managers and the leads of {mi.number} manage its tasks.")


def _over(states) -> Callable[[Any], str]:
    def refuses(record) -> str:
        if record.state in states:
            return f"{record.number} is {record.state}: a record that is over takes no new tasks."
        return ""

    return refuses


def _incident_notified(incident, event_type: str, written: list) -> None:
    if rows := incident_notify.notified_entries(event_type, incident, written):
        incident_events.write_many(rows)


def _major_notified(mi, event_type: str, written: list) -> None:
    major_notify.note_notified(mi.pk, [(event_type, written)])


INCIDENT = RecordKind(
    name="incident",
    key="incident",
    model=Incident,
    label="incident",
    refuses_tasks=_over(TERMINAL_STATES),
    can_view=incident_policy.can_view,
    can_manage=_incident_manage,
    write_task_row=lambda pk, actor, data: incident_events.TIMELINE.write(pk, TimelineType.TASK, actor, data),
    context=lambda incident: {"incident": incident_notify.incident_context(incident)},
    subject=lambda incident: incident_notify.subject_for(incident, watcher_ids=()),
    note_notified=_incident_notified,
    console_url=lambda incident: _console(
        "admin:incidents_incident_change", incident, f"/api/v1/incidents/{incident.pk}/"
    ),
)
MAJOR_INCIDENT = RecordKind(
    name="major_incident",
    key="major",
    model=MajorIncident,
    label="major incident",
    refuses_tasks=_over((MajorIncidentState.CLOSED, MajorIncidentState.REJECTED)),
    can_view=major_policy.can_view,
    can_manage=_major_manage,
    write_task_row=lambda pk, actor, data: major_events.write(pk, MajorTimelineType.TASK, actor, data),
    context=lambda mi: {"major_incident": major_notify.major_incident_context(mi)},
    subject=major_notify.subject_for,
    note_notified=_major_notified,
    console_url=lambda mi: _console("admin:incidents_majorincident_change", mi, f"/api/v1/major-incidents/{mi.pk}/"),
    owner_moves_own=True,
    has_blocking=True,
)
register(INCIDENT)
register(MAJOR_INCIDENT)
