"""Task rows on the record's timeline (type `task`): the incident's or the major incident's.

Data: {"task": id, "title", "event": created|changed|started|completed|cancelled|overdue, ...}
plus what the event carries (changed fields, a cancel reason, the overdue period). Written in
the use case's transaction, so the row and the change it describes commit together.
"""

from __future__ import annotations

from incidents import events as incident_events
from incidents.choices import TimelineType
from incidents.major import events as major_events
from incidents.major.choices import MajorTimelineType
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
    if task.major_incident_id:
        return major_events.write(task.major_incident_id, MajorTimelineType.TASK, actor, data)
    return incident_events.TIMELINE.write(task.incident_id, TimelineType.TASK, actor, data)
