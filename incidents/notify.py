"""Hand incident events to the communications app (which knows nothing of incidents).

The incident is described as a `Subject` plus a JSON context for the templates; the
communications outbox writes its rows in the caller's transaction and sends after commit.
Each queued notification is also recorded on the incident's timeline (`notified`).
"""

from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from communications.choices import Status
from communications.models import Notification
from communications.services import Emission, Subject, emit_many
from incidents import events as timeline
from incidents.models import Incident, TimelineEvent


def incident_url(incident: Incident) -> str:
    """The incident's page in the console (its API URL if the console is not installed)."""
    try:
        path = reverse("admin:incidents_incident_change", args=[incident.pk])
    except NoReverseMatch:
        path = reverse("incident-detail", args=[incident.pk])
    return settings.ITSM_SITE_URL.rstrip("/") + path


def incident_context(incident: Incident) -> dict:
    """The fields templates and webhook receivers get (JSON-serialisable)."""
    return {
        "id": incident.pk,
        "number": incident.number,
        "title": incident.title,
        "description": incident.description,
        "state": incident.state,
        "priority": incident.priority,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "channel": incident.channel,
        "service": incident.service.slug if incident.service_id else None,
        "service_name": incident.service.name if incident.service_id else "",
        "assignment_group": incident.assignment_group_id,
        "assignment_group_name": incident.assignment_group.name if incident.assignment_group_id else "",
        "assignee": incident.assignee_id,
        "assignee_name": (incident.assignee.get_full_name() or incident.assignee.get_username())
        if incident.assignee_id
        else "",
        "caller_name": incident.caller_name,
        "hold_reason": incident.hold_reason,
        "resolution_code": incident.resolution_code,
        "resolution_notes": incident.resolution_notes,
        "opened_at": incident.opened_at.isoformat() if incident.opened_at else None,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "url": incident_url(incident),
    }


def subject_for(incident: Incident, watcher_ids: tuple[int, ...] | None = None) -> Subject:
    """The incident as communications sees it (`watcher_ids` if the caller already read them)."""
    caller_email = incident.caller_email or (incident.caller.email if incident.caller_id else "")
    if watcher_ids is None:
        watcher_ids = tuple(incident.watchers.values_list("id", flat=True))
    return Subject(
        kind="incident",
        id=incident.pk,
        number=incident.number,
        title=incident.title,
        url=incident_url(incident),
        priority=incident.priority,
        service_id=incident.service_id,
        group_id=incident.assignment_group_id,
        assignee_id=incident.assignee_id,
        caller_id=incident.caller_id,
        caller_email=caller_email,
        watcher_ids=watcher_ids,
    )


def _context(incident: Incident, actor, extra: dict | None) -> dict:
    context = {"incident": incident_context(incident), **(extra or {})}
    if actor is not None and getattr(actor, "pk", None):
        context["actor"] = {"id": actor.pk, "name": actor.get_full_name() or actor.get_username()}
    return context


def notified_entries(event_type: str, incident: Incident, notifications: list[Notification]) -> list[TimelineEvent]:
    """The unsaved `notified` timeline entries of one event's notifications.

    One per queued notification; storm control's suppressed repeats go nowhere, so they are
    not recorded.
    """
    return [
        timeline.notified_row(
            incident, event=event_type, channel=notification.channel, recipient=notification.recipient
        )
        for notification in notifications
        if notification.status != Status.SUPPRESSED
    ]


@dataclass
class IncidentEvent:
    """One `incident_event()` call, for `queue_incident_events()`."""

    event_type: str
    incident: Incident
    actor: object = None
    public: bool = True
    extra: dict | None = None
    recipients: list[str] | None = None


def queue_incident_events(events: list[IncidentEvent]) -> list[tuple[list[Notification], list[TimelineEvent]]]:
    """`incident_event()` for many events with one `emit_many()`: the same notifications and entries.

    Returns, per event, its notifications and its unsaved `notified` entries: the caller writes
    the entries (one INSERT, in the order it wants them on the timelines). Watchers of every
    incident are read with one query.
    """
    if not events:
        return []
    incident_ids = {e.incident.pk for e in events}
    watchers: dict[int, list[int]] = {pk: [] for pk in incident_ids}
    through = Incident.watchers.through
    for incident_id, user_id in (
        through.objects.filter(incident_id__in=incident_ids).order_by("user_id").values_list("incident_id", "user_id")
    ):
        watchers[incident_id].append(user_id)
    emissions = [
        Emission(
            event_type=e.event_type,
            subject=subject_for(e.incident, tuple(watchers[e.incident.pk])),
            context=_context(e.incident, e.actor, e.extra),
            actor=e.actor,
            public=e.public,
            recipients=e.recipients or None,
        )
        for e in events
    ]
    written = emit_many(emissions)
    return [
        (notifications, notified_entries(e.event_type, e.incident, notifications))
        for e, notifications in zip(events, written, strict=True)
    ]


def incident_events(occurrences: list[IncidentEvent]) -> list[list[Notification]]:
    """Queue the notifications of several events of one use case together, noting each on the timeline.

    The one way incident events reach communications: one `emit_many()` (the same rows, storm
    control and idempotency as one `emit()` per event) and one INSERT of the `notified` entries.
    Returns each event's notifications.
    """
    written = queue_incident_events(occurrences)
    noted = [entry for _, entries in written for entry in entries]
    if noted:
        timeline.write_many(noted)
    return [notifications for notifications, _ in written]


def incident_event(
    event_type: str,
    incident: Incident,
    actor,
    *,
    public: bool = True,
    extra: dict | None = None,
    recipients: list[str] | None = None,
) -> list[Notification]:
    """Queue the notifications the rules ask for (plus explicit `recipients`) for one event.

    `recipients` are recipient kinds ("assignee", "group", "group_manager", ...), "user:<id>" or
    "email:<address>", used by SLA policy actions that name who to tell.
    """
    return incident_events([IncidentEvent(event_type, incident, actor, public, extra, recipients)])[0]
