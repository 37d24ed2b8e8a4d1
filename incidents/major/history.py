"""The major incident's one timeline: its own events merged in order with its incidents' events.

Read in one `UNION ALL` query (`itsm.timeline.merged`), whatever the number of linked incidents;
exported as Markdown for the post-incident review (pre-filled at `start_review`).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from incidents.major.models import MajorIncident, MajorIncidentEvent
from incidents.models import Incident, TimelineEvent
from itsm.timeline import MergedEntry, TimelineSource, merged, merged_queryset

MAJOR = "major_incident"
INCIDENT = "incident"


def sources(mi: MajorIncident) -> list[TimelineSource]:
    """The record's own timeline, then the timelines of every incident linked to it (the primary too).

    `notified` rows of the incidents are left out: the review reads what happened, not who was mailed.
    """
    incidents = Incident.objects.filter(major_incident=mi).values("id")
    return [
        TimelineSource(MAJOR, MajorIncidentEvent.objects.filter(major_incident=mi)),
        TimelineSource(
            INCIDENT,
            TimelineEvent.objects.filter(incident__in=incidents).exclude(type="notified")
            | TimelineEvent.objects.filter(incident_id=mi.incident_id).exclude(type="notified"),
        ),
    ]


def merged_entries(mi: MajorIncident, *, limit: int | None = None, offset: int = 0) -> list[MergedEntry]:
    """The merged timeline, oldest first, `limit`/`offset` applied in the database."""
    return merged(*sources(mi), limit=limit, offset=offset)


def merged_rows(mi: MajorIncident):
    """The merged timeline as an ordered queryset of `itsm.timeline.MERGED_COLUMNS` tuples (to paginate)."""
    return merged_queryset(*sources(mi))


def record_numbers(mi: MajorIncident, entries: list[MergedEntry]) -> dict[tuple[str, int], str]:
    """{(source, record id): number} for the entries, with one query for the incidents."""
    numbers = {(MAJOR, mi.pk): mi.number}
    incident_ids = {e.record_id for e in entries if e.source == INCIDENT}
    for pk, number in Incident.objects.filter(pk__in=incident_ids).values_list("id", "number"):
        numbers[(INCIDENT, pk)] = number
    return numbers


def _describe(entry: MergedEntry) -> str:
    data = entry.data or {}
    if entry.type == "transition":
        return f"{data.get('name')}: {data.get('from')} -> {data.get('to')}"
    if entry.type == "field_changed":
        return f"{data.get('field')}: {data.get('old')!r} -> {data.get('new')!r}"
    if entry.type == "update_posted":
        return f"{data.get('audience')} update ({data.get('status')})"
    if entry.type in ("linked", "unlinked"):
        return f"{data.get('kind')} {data.get('number') or data.get('target')}"
    details = ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", [], {}))
    return details


def timeline_markdown(mi: MajorIncident) -> str:
    """The merged timeline as a Markdown table (UTC), for the review and for export."""
    entries = merged_entries(mi)
    numbers = record_numbers(mi, entries)
    actor_ids = {e.actor_id for e in entries if e.actor_id}
    User = get_user_model()
    names = {u.pk: (u.get_full_name() or u.get_username()) for u in User.objects.filter(pk__in=actor_ids)}
    lines = [
        f"## Timeline of {mi.number}: {mi.title}",
        "",
        "| time (UTC) | record | event | by | details |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in entries:
        details = _describe(entry).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {entry.at.strftime('%Y-%m-%d %H:%M:%S')} | {numbers.get((entry.source, entry.record_id), '')} "
            f"| {entry.get_type_display()} | {names.get(entry.actor_id, 'system')} | {details} |"
        )
    return "\n".join(lines) + "\n"
