"""Writers of timeline events, one per event type (data shapes as API.md's timeline event).

Every service calls these inside its transaction, so the timeline and the change it describes
commit together or not at all.
"""

from datetime import datetime

from incidents.choices import TimelineType
from incidents.models import Comment, Incident, TimelineEvent


def _row(incident: Incident, type_: str, actor, data: dict, at: datetime | None = None) -> TimelineEvent:
    """An unsaved event (`at` defaults to now when saved); `*_row` builders are for bulk inserts."""
    kwargs = {"incident": incident, "type": type_, "actor": actor if getattr(actor, "pk", None) else None, "data": data}
    if at is not None:
        kwargs["at"] = at
    return TimelineEvent(**kwargs)


def _write(incident: Incident, type_: str, actor, data: dict, at: datetime | None = None) -> TimelineEvent:
    event = _row(incident, type_, actor, data, at)
    event.save(force_insert=True)
    return event


def created(incident: Incident, actor) -> TimelineEvent:
    return _write(
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
    return _write(incident, TimelineType.FIELD_CHANGED, actor, {"field": field, "old": old, "new": new})


def assigned(incident: Incident, actor, old_group, group, old_assignee, assignee) -> TimelineEvent:
    return _write(
        incident,
        TimelineType.ASSIGNED,
        actor,
        {"old_group": old_group, "group": group, "old_assignee": old_assignee, "assignee": assignee},
    )


def transitioned(incident: Incident, actor, name: str, source: str, target: str) -> TimelineEvent:
    return _write(incident, TimelineType.TRANSITION, actor, {"name": name, "from": source, "to": target})


def commented(incident: Incident, actor, comment: Comment) -> TimelineEvent:
    return _write(incident, TimelineType.COMMENTED, actor, {"comment": comment.pk, "visibility": comment.visibility})


def watcher_added(incident: Incident, actor, user_id: int) -> TimelineEvent:
    return _write(incident, TimelineType.WATCHER_ADDED, actor, {"user": user_id})


def watcher_removed(incident: Incident, actor, user_id: int) -> TimelineEvent:
    return _write(incident, TimelineType.WATCHER_REMOVED, actor, {"user": user_id})


def linked(incident: Incident, actor, kind: str, target) -> TimelineEvent:
    return _write(incident, TimelineType.LINKED, actor, {"kind": kind, "target": target})


def unlinked(incident: Incident, actor, kind: str, target) -> TimelineEvent:
    return _write(incident, TimelineType.UNLINKED, actor, {"kind": kind, "target": target})


def sla_row(
    incident: Incident,
    actor,
    *,
    policy: int,
    kind: str,
    event: str,
    percent: int | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    return _row(
        incident, TimelineType.SLA, actor, {"policy": policy, "kind": kind, "event": event, "percent": percent}, at
    )


def sla(incident: Incident, actor, **fields) -> TimelineEvent:
    """A clock's event (`sla_row`'s fields: policy, kind, event, percent, at)."""
    event = sla_row(incident, actor, **fields)
    event.save(force_insert=True)
    return event


def alert(incident: Incident, actor, *, count: int, last_seen: str, **extra) -> TimelineEvent:
    return _write(incident, TimelineType.ALERT, actor, {"count": count, "last_seen": last_seen, **extra})


def notified_row(incident: Incident, *, event: str, channel: str, recipient: str) -> TimelineEvent:
    return _row(incident, TimelineType.NOTIFIED, None, {"event": event, "channel": channel, "recipient": recipient})


def workaround_applied(incident: Incident, actor, known_error: int) -> TimelineEvent:
    return _write(incident, TimelineType.WORKAROUND_APPLIED, actor, {"known_error": known_error})
