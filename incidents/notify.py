"""Hand incident events to the communications app (which knows nothing of incidents).

The incident is described as a `Subject` plus a JSON context for the templates; the
communications outbox writes its rows in the caller's transaction and sends after commit.
Each queued notification is also recorded on the incident's timeline (`notified`).
"""

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from communications.choices import Status
from communications.services import Subject, emit
from incidents.choices import TimelineType
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


def subject_for(incident: Incident):
    caller_email = incident.caller_email or (incident.caller.email if incident.caller_id else "")
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
        watcher_ids=tuple(incident.watchers.values_list("id", flat=True)),
    )


def incident_event(
    event_type: str,
    incident: Incident,
    actor,
    *,
    public: bool = True,
    extra: dict | None = None,
    recipients: list[str] | None = None,
):
    """Queue the notifications the rules ask for (plus explicit `recipients`), noting each on the timeline.

    `recipients` are recipient kinds ("assignee", "group", "group_manager", ...), "user:<id>" or
    "email:<address>", used by SLA policy actions that name who to tell.
    """
    context = {"incident": incident_context(incident), **(extra or {})}
    if actor is not None and getattr(actor, "pk", None):
        context["actor"] = {"id": actor.pk, "name": actor.get_full_name() or actor.get_username()}
    notifications = emit(
        event_type, subject_for(incident), context, actor=actor, public=public, recipients=recipients or None
    )
    # One `notified` entry per queued notification, written with one INSERT. Storm control's
    # suppressed repeats go nowhere, so they are not recorded.
    noted = [
        TimelineEvent(
            incident=incident,
            type=TimelineType.NOTIFIED,
            actor=None,
            data={"event": event_type, "channel": notification.channel, "recipient": notification.recipient},
        )
        for notification in notifications
        if notification.status != Status.SUPPRESSED
    ]
    if noted:
        TimelineEvent.objects.bulk_create(noted)
    return notifications
