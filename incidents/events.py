"""Writers of timeline events, one per event type (data shapes as API.md's timeline event).

Every service calls these inside its transaction, so the timeline and the change it describes
commit together or not at all. They write through the shared `itsm.timeline.Timeline`; the
`*_row` builders return unsaved events for `write_many()` (one INSERT for many).
"""

from collections.abc import Iterable
from datetime import datetime

from incidents.choices import TimelineType
from incidents.models import Comment, Incident, TimelineEvent
from itsm.timeline import Timeline

TIMELINE: Timeline[TimelineEvent] = Timeline(TimelineEvent)


def write_many(rows: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """Insert unsaved events (the `*_row` builders') in one statement, in the given order."""
    return TIMELINE.write_many(rows)


def created(incident: Incident, actor) -> TimelineEvent:
    """The incident was opened: its number, channel, priority and first state."""
    return TIMELINE.write(
        incident,
        TimelineType.CREATED,
        actor,
        {
            "number": incident.number,
            "channel": incident.channel,
            "priority": incident.priority,
            "state": incident.state,
        },
    )


def field_changed(incident: Incident, actor, field: str, old, new) -> TimelineEvent:
    """One field changed from `old` to `new` (ids for foreign keys)."""
    return TIMELINE.write(incident, TimelineType.FIELD_CHANGED, actor, {"field": field, "old": old, "new": new})


def assigned(incident: Incident, actor, old_group, group, old_assignee, assignee) -> TimelineEvent:
    """The assignment group and/or assignee changed (ids, None for nobody)."""
    return TIMELINE.write(
        incident,
        TimelineType.ASSIGNED,
        actor,
        {"old_group": old_group, "group": group, "old_assignee": old_assignee, "assignee": assignee},
    )


def transitioned(incident: Incident, actor, name: str, source: str, target: str) -> TimelineEvent:
    """A state transition ran: its name and the states it went from and to."""
    return TIMELINE.write(incident, TimelineType.TRANSITION, actor, {"name": name, "from": source, "to": target})


def commented(incident: Incident, actor, comment: Comment) -> TimelineEvent:
    """A comment or work note was added (its id and visibility)."""
    return TIMELINE.write(
        incident, TimelineType.COMMENTED, actor, {"comment": comment.pk, "visibility": comment.visibility}
    )


def watcher_added(incident: Incident, actor, user_id: int) -> TimelineEvent:
    """A user started watching the incident."""
    return TIMELINE.write(incident, TimelineType.WATCHER_ADDED, actor, {"user": user_id})


def watcher_removed(incident: Incident, actor, user_id: int) -> TimelineEvent:
    """A user stopped watching the incident."""
    return TIMELINE.write(incident, TimelineType.WATCHER_REMOVED, actor, {"user": user_id})


def linked(incident: Incident, actor, kind: str, target) -> TimelineEvent:
    """The incident was linked to another record (`kind`: parent, child, problem, ...)."""
    return TIMELINE.write(incident, TimelineType.LINKED, actor, {"kind": kind, "target": target})


def unlinked(incident: Incident, actor, kind: str, target) -> TimelineEvent:
    """A link to another record was removed."""
    return TIMELINE.write(incident, TimelineType.UNLINKED, actor, {"kind": kind, "target": target})


def sla_row(
    incident: Incident,
    actor,
    *,
    policy: int,
    kind: str,
    event: str,
    percent: int | None = None,
    at: datetime | None = None,
    reason: str = "",
) -> TimelineEvent:
    """An unsaved SLA clock event (started, warning at `percent`, breached, ...); `reason` only when
    given (a pause from a pause source, e.g. a maintenance window)."""
    data = {"policy": policy, "kind": kind, "event": event, "percent": percent}
    if reason:
        data["reason"] = reason
    return TIMELINE.row(incident, TimelineType.SLA, actor, data, at)


def sla(incident: Incident, actor, **fields) -> TimelineEvent:
    """A clock's event (`sla_row`'s fields: policy, kind, event, percent, at)."""
    event = sla_row(incident, actor, **fields)
    event.save(force_insert=True)
    return event


def alert(incident: Incident, actor, *, count: int, last_seen: str, **extra) -> TimelineEvent:
    """A monitoring alert repeated on the incident: the count so far and when it was last seen."""
    return TIMELINE.write(incident, TimelineType.ALERT, actor, {"count": count, "last_seen": last_seen, **extra})


def notified_row(incident: Incident, *, event: str, channel: str, recipient: str) -> TimelineEvent:
    """An unsaved record of one queued notification (by the system)."""
    return TIMELINE.row(
        incident, TimelineType.NOTIFIED, None, {"event": event, "channel": channel, "recipient": recipient}
    )


def workaround_applied(incident: Incident, actor, known_error: int) -> TimelineEvent:
    """A known error's workaround was applied to the incident."""
    return TIMELINE.write(incident, TimelineType.WORKAROUND_APPLIED, actor, {"known_error": known_error})
