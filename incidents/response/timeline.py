"""Task rows on the record's timeline (type `task`): the incident's, the major incident's or any
registered record kind's (`incidents.response.records`, e.g. a problem's).

Data: {"task": id, "title", "event": created|changed|started|completed|cancelled|overdue, ...}
plus what the event carries (changed fields, a cancel reason, the overdue period). Written in
the use case's transaction, so the row and the change it describes commit together.
"""

from __future__ import annotations

from incidents.response import records
from incidents.response.models import Task

CREATED = "created"
CHANGED = "changed"
STARTED = "started"
COMPLETED = "completed"
CANCELLED = "cancelled"
OVERDUE = "overdue"
EVENTS = (CREATED, CHANGED, STARTED, COMPLETED, CANCELLED, OVERDUE)


def write(task: Task, actor, event: str, **extra):
    """One `task` row about `task` on its record's timeline."""
    data = {"task": task.pk, "title": task.title, "event": event, **extra}
    if task.kind:
        data.setdefault("kind", task.kind)
    return records.for_task(task).write_task_row(records.record_id(task), actor, data)
