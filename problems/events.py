"""Writers of problem timeline events, one per event type.

Every use case calls these inside its transaction, so the timeline and the change it describes
commit together. Data shapes follow API.md's timeline event for the shared types (`created`,
`field_changed`, `assigned`, `transition`, `linked`, `unlinked`, `notified`, `workaround_applied`).
"""

from datetime import datetime

from itsm.timeline import Timeline
from problems.choices import ProblemTimelineType as T
from problems.models import Problem, ProblemEvent

TIMELINE: Timeline[ProblemEvent] = Timeline(ProblemEvent)


def write(problem: Problem | int, type: str, actor, data: dict, at: datetime | None = None) -> ProblemEvent:
    """Insert one event of `type` (a ProblemTimelineType) on the problem's timeline."""
    return TIMELINE.write(problem, type, actor, data, at)


def created(problem: Problem, actor) -> ProblemEvent:
    """The problem was recorded: number, source, state."""
    return write(
        problem, T.CREATED, actor, {"number": problem.number, "source": problem.source, "state": problem.state}
    )


def field_changed(problem: Problem, actor, field: str, old, new) -> ProblemEvent:
    """One field changed from `old` to `new` (ids for foreign keys)."""
    return write(problem, T.FIELD_CHANGED, actor, {"field": field, "old": old, "new": new})


def transitioned(problem: Problem, actor, name: str, source: str, target: str, **extra) -> ProblemEvent:
    """A state transition ran (with what it carried: a reason, resolve_linked, duplicate_of...)."""
    return write(problem, T.TRANSITION, actor, {"name": name, "from": source, "to": target, **extra})


def linked(problem: Problem, actor, kind: str, target: int, number: str, **extra) -> ProblemEvent:
    """An incident or a major incident was linked (`kind`: incident / major_incident)."""
    return write(problem, T.LINKED, actor, {"kind": kind, "target": target, "number": number, **extra})


def unlinked(problem: Problem, actor, kind: str, target: int, number: str, **extra) -> ProblemEvent:
    """An incident or a major incident was unlinked."""
    return write(problem, T.UNLINKED, actor, {"kind": kind, "target": target, "number": number, **extra})


def known_error(problem: Problem, actor, event: str, known_error_id: int) -> ProblemEvent:
    """The known error article was `published`, `updated` or `retired`."""
    return write(problem, T.KNOWN_ERROR, actor, {"event": event, "known_error": known_error_id})


def workaround_applied(problem: Problem | int, actor, known_error_id: int, incident_id: int | None) -> ProblemEvent:
    """The workaround was applied to an incident (or fixed a caller's issue without one)."""
    return write(problem, T.WORKAROUND_APPLIED, actor, {"known_error": known_error_id, "incident": incident_id})


def recurrence(problem: Problem, actor, incident_id: int, number: str) -> ProblemEvent:
    """An incident was linked after the problem was resolved."""
    return write(problem, T.RECURRENCE, actor, {"incident": incident_id, "number": number})


def notified_row(problem: Problem | int, *, event: str, channel: str, recipient: str) -> ProblemEvent:
    """An unsaved record of one queued notification (by the system), for `TIMELINE.write_many`."""
    return TIMELINE.row(problem, T.NOTIFIED, None, {"event": event, "channel": channel, "recipient": recipient})
