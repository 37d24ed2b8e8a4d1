"""Task use cases: create, update, start / complete / cancel, and the blocking-task query.

A task belongs to one record: an incident, a major incident, or a kind registered in
`incidents.response.records` (a problem); every record-specific step (lock, refusal, policy,
timeline, notification) goes through that registry. Every function runs in one transaction:
lock the task (or its record on create), check the
client's version, ask `incidents.response.policy`, validate (one ValidationError naming every
bad field), change (the state only through the task's transitions), save with a version bump,
write the `task` row on the record's timeline and queue the owner's notification (through the
record's notify path: delivered after commit). Nothing is written on any refusal. Errors:
ValidationError (400), PermissionDenied (403), InvalidTransition (409), StaleRecord (412).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_fsm import can_proceed

from communications.choices import RecipientKind
from communications.services import Emission, emit_many
from communications.subject import Subject
from incidents.major.models import MajorIncident
from incidents.response import policy, records
from incidents.response import timeline as task_timeline
from incidents.response.choices import OPEN_TASK_STATES, TaskRole, TaskSource, TaskState
from incidents.response.models import Task
from itsm.exceptions import Conflict, InvalidTransition, StaleRecord
from itsm.models import AssignmentGroup

User = get_user_model()

EDITABLE_FIELDS = ("title", "description", "assignment_group", "assignee", "due_at", "blocking", "position", "kind")
# What each transition takes in its body: {field: required}.
TRANSITION_FIELDS: dict[str, dict[str, bool]] = {"start": {}, "complete": {}, "cancel": {"reason": False}}
TRANSITION_NAMES = list(TRANSITION_FIELDS)
TRANSITION_EVENTS = {
    "start": task_timeline.STARTED,
    "complete": task_timeline.COMPLETED,
    "cancel": task_timeline.CANCELLED,
}
ASSIGNED = "task.assigned"
OVERDUE = "task.overdue"
CLOCK_SKEW = timedelta(minutes=1)  # a client's clock slightly behind is not "in the past"
MAX_POSITION = 2_147_483_647


# --- helpers ------------------------------------------------------------------------------------
def _pk(value) -> Any:
    return value.pk if hasattr(value, "pk") else value


def _iso(value) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _require(decision) -> None:
    if not decision:
        raise PermissionDenied(decision.reason)


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def label(task: Task) -> str:
    """How errors name a task: its title and id."""
    return f"task '{task.title}' (#{task.pk})"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean(
    changes: dict, *, creating: bool, allow_past_due: bool = False, task_kinds: tuple[str, ...] = ("",)
) -> dict[str, Any]:
    """Validated values of `changes` (group and assignee as instances); one ValidationError naming
    every bad field. A due time in the past is refused on create unless `allow_past_due`; `kind`
    must be one of the record's `task_kinds`."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    now = timezone.now()
    for name, value in changes.items():
        if name == "title":
            if not isinstance(value, str) or not value.strip():
                errors[name] = ["A title is required."]
            elif len(value.strip()) > 255:
                errors[name] = ["At most 255 characters."]
            else:
                out[name] = value.strip()
        elif name == "description":
            value = value or ""
            if not isinstance(value, str) or len(value) > 100_000:
                errors[name] = ["Text of at most 100000 characters."]
            else:
                out[name] = value
        elif name == "assignment_group":
            if value is None:
                out[name] = None
            elif isinstance(value, AssignmentGroup):
                out[name] = value
            elif _is_int(value) and (group := AssignmentGroup.objects.filter(pk=value, active=True).first()):
                out[name] = group
            else:
                errors[name] = [f"{value!r} is not an active assignment group."]
        elif name == "assignee":
            if value is None:
                out[name] = None
            elif _is_int(_pk(value)) and (user := User.objects.filter(pk=_pk(value), is_active=True).first()):
                out[name] = user
            else:
                errors[name] = [f"{_pk(value)!r} is not an active user."]
        elif name == "due_at":
            if isinstance(value, str):
                value = parse_datetime(value) or value
            if value is not None and not (isinstance(value, datetime) and timezone.is_aware(value)):
                errors[name] = ["A date and time with a timezone, or null."]
            elif value is not None and creating and not allow_past_due and value < now - CLOCK_SKEW:
                errors[name] = ["Must not be in the past."]
            else:
                out[name] = value
        elif name == "blocking":
            if not isinstance(value, bool):
                errors[name] = ["Either true or false."]
            else:
                out[name] = value
        elif name == "position":
            if not _is_int(value) or not 0 <= value <= MAX_POSITION:
                errors[name] = ["A whole number from 0."]
            else:
                out[name] = value
        elif name == "kind":
            value = "" if value is None else value
            if value not in task_kinds:
                named = [k for k in task_kinds if k]
                errors[name] = [f"One of: {', '.join(named)}." if named else "This record's tasks take no kind."]
            else:
                out[name] = value
        elif name == "role":
            if value not in ("", *TaskRole.values):
                errors[name] = [f"One of: {', '.join(TaskRole.values)} (or blank)."]
            else:
                out[name] = value
        else:
            errors[name] = ["Unknown field."]
    if errors:
        raise ValidationError(errors)
    return out


def _lock_record(record):
    return type(record).objects.select_for_update().get(pk=record.pk)


def _lock(task: Task | int) -> Task:
    return Task.objects.select_for_update(of=("self",)).select_related(*records.related()).get(pk=_pk(task))


def _check_version(task: Task, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != task.version:
        raise StaleRecord(
            f"{label(task).capitalize()} changed since you read it "
            f"(version {task.version}, you had {expected_version})."
        )


def _save(task: Task) -> None:
    task.version += 1
    task.save()


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def task_context(task: Task) -> dict:
    """What templates and webhook receivers get about one task (JSON-serialisable)."""
    return {
        "id": task.pk,
        "title": task.title,
        "kind": task.kind,
        "description": task.description,
        "state": task.state,
        "blocking": task.blocking,
        "due_at": _iso(task.due_at),
        "assignee": task.assignee_id,
        "assignee_name": _name(task.assignee) if task.assignee_id else "",
        "assignment_group": task.assignment_group_id,
        "assignment_group_name": task.assignment_group.name if task.assignment_group_id else "",
        "reminder_count": task.reminder_count,
    }


def _subject(task: Task) -> Subject:
    """The task's record as communications sees it, with the task's owner as assignee and group
    (so "assignee_or_group" names the task's owner) and no watchers (a task concerns its owner)."""
    return replace(
        records.for_task(task).subject(task.record),
        assignee_id=task.assignee_id,
        group_id=task.assignment_group_id,
        watcher_ids=(),
        stakeholder_emails=(),
    )


def notify_owner(task: Task, event_type: str, actor, extra: dict | None = None) -> list:
    """Queue `event_type` about `task` to its owner (the assignee, else the group: its mailbox or
    its members) in the caller's transaction, delivered after commit; each queued notification is
    noted on the record's timeline (`notified`) as the record's own notify path does."""
    if task.assignee_id is None and task.assignment_group_id is None:
        return []
    actor = _actor(actor)
    kind = records.for_task(task)
    context = kind.context(task.record)
    context.update(task=task_context(task), **(extra or {}))
    if actor is not None:
        context["actor"] = {"id": actor.pk, "name": _name(actor)}
    [written] = emit_many(
        [
            Emission(
                event_type=event_type,
                subject=_subject(task),
                context=context,
                actor=actor,
                public=False,
                recipients=[RecipientKind.ASSIGNEE_OR_GROUP],
            )
        ]
    )
    kind.note_notified(task.record, event_type, written)
    return written


def available_transitions(task: Task, user) -> list[str]:
    """Names of the transitions `user` may run on `task` from its current state."""
    if not policy.can_transition_task(user, task, "start"):
        return []
    return [name for name in TRANSITION_NAMES if can_proceed(getattr(task, name))]


def open_blocking_tasks(mi: MajorIncident | int) -> list[Task]:
    """The blocking tasks of `mi` that are still open (they hold its `resolve`), in list order."""
    return list(
        Task.objects.filter(major_incident_id=_pk(mi), blocking=True, state__in=OPEN_TASK_STATES).order_by(
            "position", "id"
        )
    )


# --- create -------------------------------------------------------------------------------------
@transaction.atomic
def create_task(
    *,
    actor,
    record,
    title: str,
    description: str = "",
    assignment_group=None,
    assignee=None,
    due_at: datetime | None = None,
    blocking: bool = False,
    role: str = "",
    kind: str | None = None,
    source: str = TaskSource.MANUAL,
    plan_version=None,
    position: int | None = None,
    allow_past_due: bool = False,
) -> Task:
    """Add a task to an incident, a major incident or a registered record such as a problem
    (`actor=None`: the system, e.g. a plan).

    400 naming every bad field (a due time in the past unless `allow_past_due`; a `kind` the
    record does not take: problems take `rca` / `general`, default the first), 403 from
    `policy.can_add_task`, 409 when the record takes no new tasks (closed, cancelled, rejected).
    `position` defaults to the end of the record's list. Writes the `created` task row on the
    record's timeline and tells the owner (assignee, else group).
    """
    record_kind = records.for_record(record)
    record = _lock_record(record)
    _require(policy.can_add_task(actor, record))
    if refusal := record_kind.refuses_tasks(record):
        raise Conflict(refusal)
    fields: dict[str, Any] = {
        "title": title,
        "description": description,
        "assignment_group": assignment_group,
        "assignee": assignee,
        "due_at": due_at,
        "blocking": blocking,
        "role": role,
        "kind": record_kind.task_kinds[0] if kind is None else kind,
    }
    if position is not None:
        fields["position"] = position
    errors: dict[str, list[str]] = {}
    if source not in TaskSource.values:
        errors["source"] = [f"One of: {', '.join(TaskSource.values)}."]
    try:
        values = _clean(fields, creating=True, allow_past_due=allow_past_due, task_kinds=record_kind.task_kinds)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        values = {}
    if errors:
        raise ValidationError(errors)
    on = {record_kind.name: record}
    if "position" not in values:
        last = Task.objects.filter(**on).order_by("-position").values_list("position", flat=True).first()
        values["position"] = 0 if last is None else min(last + 1, MAX_POSITION)
    task = Task(
        **on,
        **values,
        source=source,
        plan_version=plan_version,
        created_by=_actor(actor),
        next_reminder_at=values.get("due_at"),
    )
    task.save(force_insert=True)
    task_timeline.write(
        task,
        _actor(actor),
        task_timeline.CREATED,
        assignee=task.assignee_id,
        assignment_group=task.assignment_group_id,
        due_at=_iso(task.due_at),
        blocking=task.blocking,
        source=task.source,
    )
    notify_owner(task, ASSIGNED, actor)
    return task


# --- update -------------------------------------------------------------------------------------
@transaction.atomic
def update_task(task: Task | int, *, actor, changes: dict, expected_version: int | None = None) -> Task:
    """Change a task's fields (never its state): title, description, group, assignee, due time,
    blocking, position, kind (one the record takes). Closed tasks (done, cancelled) are frozen
    (409). A new owner is told.
    """
    task = _lock(task)
    _check_version(task, expected_version)
    _require(policy.can_change_task(actor, task))
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    if not task.is_open:
        raise InvalidTransition(
            label(task), "update", task.state, [], reason=f"{label(task).capitalize()} is {task.state}; it is closed."
        )
    values = _clean(changes, creating=False, task_kinds=records.for_task(task).task_kinds)
    changed: dict[str, dict] = {}
    for name, value in values.items():
        old = getattr(task, f"{name}_id") if name in ("assignee", "assignment_group") else getattr(task, name)
        new = _pk(value) if name in ("assignee", "assignment_group") else value
        if old == new:
            continue
        setattr(task, name, value)
        changed[name] = {"old": _iso(old), "new": _iso(new)}
    if not changed:
        return task
    if "due_at" in changed:
        task.next_reminder_at = task.due_at
    _save(task)
    task_timeline.write(task, _actor(actor), task_timeline.CHANGED, changes=changed)
    if "assignee" in changed or ("assignment_group" in changed and task.assignee_id is None):
        notify_owner(task, ASSIGNED, actor)
    return task


# --- transitions --------------------------------------------------------------------------------
@transaction.atomic
def run_task_transition(
    task: Task | int, name: str, *, actor, payload: dict | None = None, expected_version: int | None = None
) -> Task:
    """Run `start`, `complete` or `cancel` (with an optional `reason`) on a task.

    400 for an unknown transition or body field, 412 on a version mismatch, 403 from
    `policy.can_transition_task`, 409 naming the state and the transitions allowed now.
    Closing a task clears its reminder.
    """
    if name not in TRANSITION_FIELDS:
        raise ValidationError({"name": [f"Unknown transition '{name}'. Known: {', '.join(TRANSITION_NAMES)}."]})
    payload = dict(payload or {})
    task = _lock(task)
    _check_version(task, expected_version)
    _require(policy.can_transition_task(actor, task, name))
    if not can_proceed(getattr(task, name)):
        raise InvalidTransition(label(task), name, task.state, available_transitions(task, actor))
    errors = {f: [f"Not a field of '{name}'."] for f in sorted(set(payload) - set(TRANSITION_FIELDS[name]))}
    reason = payload.get("reason") or ""
    if "reason" in payload and not isinstance(reason, str):
        errors["reason"] = ["Text."]
    elif len(reason) > 10_000:
        errors["reason"] = ["Text of at most 10000 characters."]
    if errors:
        raise ValidationError(errors)
    source = task.state
    getattr(task, name)()
    extra: dict[str, Any] = {"from": source, "to": task.state}
    if name == "cancel":
        task.cancel_reason = reason.strip()
        if task.cancel_reason:
            extra["reason"] = task.cancel_reason
    if task.state not in OPEN_TASK_STATES:
        task.next_reminder_at = None
    _save(task)
    task_timeline.write(task, _actor(actor), TRANSITION_EVENTS[name], **extra)
    return task


def start(task: Task | int, *, actor, expected_version: int | None = None) -> Task:
    """`run_task_transition(task, "start")`."""
    return run_task_transition(task, "start", actor=actor, expected_version=expected_version)


def complete(task: Task | int, *, actor, expected_version: int | None = None) -> Task:
    """`run_task_transition(task, "complete")`."""
    return run_task_transition(task, "complete", actor=actor, expected_version=expected_version)


def cancel(task: Task | int, *, actor, reason: str = "", expected_version: int | None = None) -> Task:
    """`run_task_transition(task, "cancel", payload={"reason": reason})`."""
    return run_task_transition(
        task, "cancel", actor=actor, payload={"reason": reason}, expected_version=expected_version
    )


__all__ = [
    "TaskState",
    "available_transitions",
    "cancel",
    "complete",
    "create_task",
    "label",
    "notify_owner",
    "open_blocking_tasks",
    "run_task_transition",
    "start",
    "task_context",
    "update_task",
]
