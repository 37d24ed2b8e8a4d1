"""Reactions to incident domain events, run by a worker after the request committed.

`open_incident` does not fan notifications out inline (rules, recipients, Notification rows,
`notified` timeline rows: a dozen statements and most of a create's Python time). It publishes one
`incident.opened` domain event (`itsm.events`: a row written in the create's transaction, handed
to Celery after commit, re-sent by the beat sweep if the broker was down) and the worker sends
the same notifications through `incidents.notify`, as of the moment the incident was opened.
"""

from django.contrib.auth import get_user_model

from incidents import notify
from incidents.models import Incident
from itsm.models import DomainEvent

OPENED = "incident.opened"

# What the notifications render that may change after creation: frozen in the event's payload so
# a quick follow-up change (a PATCH a millisecond later) does not alter what "created" says.
SNAPSHOT_FIELDS = (
    "title",
    "description",
    "priority",
    "impact",
    "urgency",
    "channel",
    "service_id",
    "assignment_group_id",
    "assignee_id",
    "caller_id",
    "caller_name",
    "caller_email",
    "hold_reason",
    "resolution_code",
    "resolution_notes",
)


def opened_payload(incident: Incident, actor, notifications: list[str]) -> dict:
    """The `incident.opened` payload: ids, the notifications to send, and the incident as opened."""
    snapshot = {name: getattr(incident, name) for name in SNAPSHOT_FIELDS}
    snapshot["state"] = incident.state
    return {
        "incident": incident.pk,
        "actor": getattr(actor, "pk", None),
        "notifications": notifications,
        "snapshot": snapshot,
    }


def send_opened_notifications(event: DomainEvent) -> None:
    """Subscriber of `incident.opened`: the creation (and first assignment) notifications.

    Runs inside `itsm.events.dispatch`'s transaction, which marks the event dispatched in the same
    commit: the notifications are written exactly once (a redelivered event finds it dispatched).
    """
    payload = event.payload
    incident = Incident.objects.filter(pk=payload["incident"]).first()
    if incident is None:
        return  # deleted meanwhile (never through the product): nothing to tell anyone
    snapshot = dict(payload.get("snapshot") or {})
    state = snapshot.pop("state", None)
    for name, value in snapshot.items():
        setattr(incident, name, value)  # a changed FK id drops its cached object (loaded lazily)
    if state is not None:
        incident.__dict__["state"] = state  # protected FSM field; this copy is never saved
    actor = None
    if payload.get("actor") is not None:
        actor = get_user_model().objects.filter(pk=payload["actor"]).first()
    for event_type in payload.get("notifications", []):
        notify.incident_event(event_type, incident, actor)
