"""Writers of major incident timeline events, one per event type.

Every use case calls these inside its transaction, so the timeline and the change it describes
commit together. Data shapes follow API.md's timeline event where the type is shared with the
incident timeline (`created`, `field_changed`, `transition`, `linked`, `unlinked`, `notified`).
"""

from datetime import datetime

from incidents.major.choices import MajorTimelineType as T
from incidents.major.models import MajorIncident, MajorIncidentEvent
from itsm.timeline import Timeline

TIMELINE: Timeline[MajorIncidentEvent] = Timeline(MajorIncidentEvent)


def write(mi: MajorIncident | int, type: str, actor, data: dict, at: datetime | None = None) -> MajorIncidentEvent:
    """Insert one event of `type` (a MajorTimelineType) on `mi`'s timeline."""
    return TIMELINE.write(mi, type, actor, data, at)


def created(mi: MajorIncident, actor) -> MajorIncidentEvent:
    """The major incident was proposed (or declared at once): number, primary incident, reason."""
    return write(
        mi, T.CREATED, actor, {"number": mi.number, "incident": mi.incident_id, "state": mi.state, "reason": mi.reason}
    )


def transitioned(mi: MajorIncident, actor, name: str, source: str, target: str, **extra) -> MajorIncidentEvent:
    """A state transition ran (with what it carried: a rejection reason, resolve_linked...)."""
    return write(mi, T.TRANSITION, actor, {"name": name, "from": source, "to": target, **extra})


def field_changed(mi: MajorIncident, actor, field: str, old, new) -> MajorIncidentEvent:
    """One field changed from `old` to `new` (ids for people, slugs for services)."""
    return write(mi, T.FIELD_CHANGED, actor, {"field": field, "old": old, "new": new})


def role_changed(mi: MajorIncident, actor, role: str, old: int | None, new: int | None) -> MajorIncidentEvent:
    """The manager, communications lead or technical lead changed (user ids)."""
    return write(mi, T.ROLE_CHANGED, actor, {"role": role, "old": old, "new": new})


def linked(mi: MajorIncident, actor, incident_id: int, number: str) -> MajorIncidentEvent:
    """An incident was linked to the major incident."""
    return write(mi, T.LINKED, actor, {"kind": "incident", "target": incident_id, "number": number})


def unlinked(mi: MajorIncident, actor, incident_id: int, number: str) -> MajorIncidentEvent:
    """An incident was unlinked from the major incident."""
    return write(mi, T.UNLINKED, actor, {"kind": "incident", "target": incident_id, "number": number})


def notified_row(mi: MajorIncident | int, *, event: str, channel: str, recipient: str) -> MajorIncidentEvent:
    """An unsaved record of one queued notification (by the system), for `TIMELINE.write_many`."""
    return TIMELINE.row(mi, T.NOTIFIED, None, {"event": event, "channel": channel, "recipient": recipient})
