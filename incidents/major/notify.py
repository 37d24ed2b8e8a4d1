"""Hand major incident events to the communications app (which knows nothing of major incidents).

The record is described as a `Subject` (kind `major_incident`; its affected services, so their
subscribers are reached; its stakeholders as watchers) plus a JSON context for the templates.
`emit_events()` is the one way a major incident use case queues notifications: one
`emit_many()` in the use case's transaction (delivered after commit, swept if the broker was
down), each queued notification noted on the record's timeline (`notified`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from communications.choices import Status
from communications.services import Emission, Subject, emit_many
from incidents.major import events
from incidents.major.models import MajorIncident


def major_incident_url(mi: MajorIncident) -> str:
    """The major incident's workbench in the console (its API URL if the console is not installed)."""
    try:
        path = reverse("admin:incidents_majorincident_change", args=[mi.pk])
    except NoReverseMatch:
        path = reverse("major-incident-detail", args=[mi.pk])
    return settings.ITSM_SITE_URL.rstrip("/") + path


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def major_incident_context(mi: MajorIncident) -> dict:
    """The fields templates and webhook receivers get (JSON-serialisable); public occurrences get
    only `PUBLIC_RECORD_FIELDS` of it."""
    services = list(mi.affected_services.all())
    return {
        "id": mi.pk,
        "number": mi.number,
        "title": mi.title,
        "state": mi.state,
        "incident": mi.incident.number if mi.incident_id else None,
        "priority": mi.incident.priority if mi.incident_id else None,
        "impact_summary": mi.impact_summary,
        "customers_affected": mi.customers_affected,
        "bridge_url": mi.bridge_url,
        "chat_channel": mi.chat_channel,
        "manager": _name(mi.manager),
        "comms_lead": _name(mi.comms_lead),
        "tech_lead": _name(mi.tech_lead),
        "affected_services": [s.slug for s in services],
        "affected_service_names": [s.name for s in services],
        "declared_at": mi.declared_at.isoformat() if mi.declared_at else None,
        "resolved_at": mi.resolved_at.isoformat() if mi.resolved_at else None,
        "next_update_due_at": mi.next_update_due_at.isoformat() if mi.next_update_due_at else None,
        "url": major_incident_url(mi),
    }


# What an outsider may read about the record (DOMAIN.md: no staff names, no internal incident
# numbers, no bridge): public occurrences carry only these fields of the record.
PUBLIC_RECORD_FIELDS = (
    "id",
    "number",
    "title",
    "state",
    "priority",
    "impact_summary",
    "affected_services",
    "affected_service_names",
    "declared_at",
    "resolved_at",
    "next_update_due_at",
    "url",
)


def public_record(record: dict) -> dict:
    """The record context (`major_incident_context`) with only what outsiders may read."""
    return {name: record[name] for name in PUBLIC_RECORD_FIELDS if name in record}


def subject_for(mi: MajorIncident) -> Subject:
    """The major incident as communications sees it."""
    service_ids = tuple(mi.affected_services.values_list("id", flat=True))
    incident = mi.incident
    return Subject(
        kind="major_incident",
        id=mi.pk,
        number=mi.number,
        title=mi.title,
        url=major_incident_url(mi),
        priority=incident.priority,
        service_id=incident.service_id,
        service_ids=service_ids,
        group_id=incident.assignment_group_id,
        assignee_id=mi.manager_id,
        watcher_ids=tuple(mi.stakeholders.values_list("id", flat=True)),
    )


@dataclass
class Occurrence:
    """One occurrence to announce: the event type, who caused it, what the templates get besides
    the record (`extra`), whether outsiders may see it (`public`), and explicit recipients
    ("user:<id>", "email:<address>", recipient kinds) on top of the rules."""

    event_type: str
    actor: object = None
    extra: dict = field(default_factory=dict)
    public: bool = True
    recipients: list[str] | None = None


def emit_events(mi: MajorIncident, occurrences: list[Occurrence]) -> list[list]:
    """Queue the notifications of `occurrences` about `mi` in the caller's transaction.

    One `emit_many()` for all of them; one INSERT of the `notified` timeline entries (storm
    control's suppressed repeats are not noted). Returns each occurrence's notifications.
    """
    if not occurrences:
        return []
    subject = subject_for(mi)
    record = major_incident_context(mi)
    emissions = []
    for occurrence in occurrences:
        context = {"major_incident": public_record(record) if occurrence.public else record, **occurrence.extra}
        actor = occurrence.actor
        if actor is not None and getattr(actor, "pk", None):
            context["actor"] = {"id": actor.pk, "name": _name(actor)}
        emissions.append(
            Emission(
                event_type=occurrence.event_type,
                subject=subject,
                context=context,
                actor=actor,
                public=occurrence.public,
                recipients=occurrence.recipients,
            )
        )
    written = emit_many(emissions)
    note_notified(mi, [(o.event_type, notifications) for o, notifications in zip(occurrences, written, strict=True)])
    return written


def note_notified(mi: MajorIncident | int, written: list[tuple[str, list]]) -> None:
    """Each queued notification of `written` ((event type, notifications) pairs) noted on the
    major incident's timeline in one INSERT; storm control's suppressed repeats are not noted."""
    rows = [
        events.notified_row(mi, event=event_type, channel=n.channel, recipient=n.recipient)
        for event_type, notifications in written
        for n in notifications
        if n.status != Status.SUPPRESSED
    ]
    if rows:
        events.TIMELINE.write_many(rows)


def emit_event(mi: MajorIncident, event_type: str, actor=None, **kwargs) -> list:
    """`emit_events()` of one occurrence."""
    return emit_events(mi, [Occurrence(event_type, actor, **kwargs)])[0]
