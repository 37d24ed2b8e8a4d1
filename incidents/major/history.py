"""The major incident's one timeline: its own events merged in order with its incidents' events.

Read in one `UNION ALL` query (`itsm.timeline.merged`), whatever the number of linked incidents;
exported as Markdown for the post-incident review: `timeline_markdown` (the table the review's
timeline section is pre-filled with at `start_review`) and `review_markdown` (the whole PIR
document: header, business impact, the review's sections, action items, the timeline).
Every Markdown rendering reads a fixed number of queries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model

from incidents.major.models import MajorIncident, MajorIncidentEvent, PostIncidentReview
from incidents.models import Incident, TimelineEvent
from incidents.response.narration import task_sentence
from itsm.timeline import MergedEntry, TimelineSource, merged, merged_queryset

MAJOR = "major_incident"
INCIDENT = "incident"
NOTIFIED = "notified"
# Left out of the review's timeline: who was mailed, and the edits of the review itself (its
# action items have their own table).
NOT_IN_REVIEW = (NOTIFIED, "review_changed", "action_item")


def sources(mi: MajorIncident, *, for_review: bool = False) -> list[TimelineSource]:
    """The record's own timeline, then the timelines of every incident linked to it (the primary too).

    `notified` rows of the incidents are left out: the review reads what happened, not who was
    mailed; `for_review` also leaves out the record's own `NOT_IN_REVIEW` rows (the Markdown).
    The linked incidents are a subquery, so the read stays one query at any number of links.
    """
    incidents = Incident.objects.filter(major_incident=mi).values("id")
    own = MajorIncidentEvent.objects.filter(major_incident=mi)
    if for_review:
        own = own.exclude(type__in=NOT_IN_REVIEW)
    return [
        TimelineSource(MAJOR, own),
        TimelineSource(
            INCIDENT,
            TimelineEvent.objects.filter(incident__in=incidents).exclude(type=NOTIFIED)
            | TimelineEvent.objects.filter(incident_id=mi.incident_id).exclude(type=NOTIFIED),
        ),
    ]


def merged_entries(
    mi: MajorIncident, *, limit: int | None = None, offset: int = 0, for_review: bool = False
) -> list[MergedEntry]:
    """The merged timeline, oldest first, `limit`/`offset` applied in the database."""
    return merged(*sources(mi, for_review=for_review), limit=limit, offset=offset)


def merged_rows(mi: MajorIncident):
    """The merged timeline as an ordered queryset of `itsm.timeline.MERGED_COLUMNS` tuples (to paginate)."""
    return merged_queryset(*sources(mi))


def record_numbers(mi: MajorIncident, entries: list[MergedEntry]) -> dict[tuple[str, int], str]:
    """{(source, record id): number} for the entries, with one query for the incidents."""
    numbers = {(MAJOR, mi.pk): mi.number}
    incident_ids = {e.record_id for e in entries if e.source == INCIDENT}
    if incident_ids:
        for pk, number in Incident.objects.filter(pk__in=incident_ids).values_list("id", "number"):
            numbers[(INCIDENT, pk)] = number
    return numbers


# --- Markdown -----------------------------------------------------------------------------------
def cell(value) -> str:
    """`value` as the text of one Markdown table cell (GFM).

    Backslashes first, then pipes (an unescaped `|` would end the cell), `<` (no raw HTML from a
    record's data reaches a renderer) and line breaks (`<br>`: a newline would end the row).
    """
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def inline(value) -> str:
    """`value` on one line (a heading or a list item): line breaks become spaces."""
    return " ".join(("" if value is None else str(value)).split())


def _user_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    User = get_user_model()
    return {u.pk: (u.get_full_name() or u.get_username()) for u in User.objects.filter(pk__in=ids)}


def describe(entry: MergedEntry) -> str:
    """One line saying what an entry of the merged timeline did (the Markdown table's details)."""
    data = entry.data or {}
    if entry.type == "transition":
        return f"{data.get('name')}: {data.get('from')} -> {data.get('to')}"
    if entry.type == "field_changed":
        return f"{data.get('field')}: {data.get('old')!r} -> {data.get('new')!r}"
    if entry.type == "update_posted":
        return f"{data.get('audience')} update ({data.get('status')})"
    if entry.type in ("linked", "unlinked"):
        return f"{data.get('kind')} {data.get('number') or data.get('target')}"
    if entry.type == "review_changed":
        prefix = "pre-filled: " if data.get("prefilled") else ""
        return prefix + ", ".join(data.get("fields") or [])
    if entry.type == "action_item":
        return f"{data.get('event')}: {data.get('title')}"
    if entry.type == "task":
        return task_sentence(data)
    return ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", [], {}))


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _timeline_table(mi: MajorIncident) -> list[str]:
    """The merged timeline as the review reads it (`for_review`), as table lines: three queries."""
    entries = merged_entries(mi, for_review=True)
    numbers = record_numbers(mi, entries)
    names = _user_names(e.actor_id for e in entries)
    lines = ["| time (UTC) | record | event | by | details |", "| --- | --- | --- | --- | --- |"]
    for entry in entries:
        cells = (
            _utc(entry.at),
            numbers.get((entry.source, entry.record_id), ""),
            entry.get_type_display(),
            names.get(entry.actor_id, "system"),
            describe(entry),
        )
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return lines


def timeline_markdown(mi: MajorIncident) -> str:
    """The merged timeline as a Markdown table (UTC), for the review and for export."""
    lines = [f"## Timeline of {mi.number}: {inline(mi.title)}", "", *_timeline_table(mi)]
    return "\n".join(lines) + "\n"


def _cost(value) -> str:
    return "" if value is None else str(value)


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None or end < start:
        return ""
    total = int((end - start) / timedelta(seconds=1))
    hours, rest = divmod(total, 3600)
    return f"{hours} h {rest // 60:02d} min"


SECTIONS = (
    ("Summary", "summary"),
    ("Root cause", "root_cause"),
    ("Contributing factors", "contributing_factors"),
    ("What went well", "went_well"),
    ("What went badly", "went_badly"),
    ("Lessons learned", "lessons_learned"),
)


def review_markdown(mi: MajorIncident) -> str:
    """The whole post-incident review as one Markdown document (UTC times).

    Header (number, title, state, primary incident, services, roles, times), business impact
    from the record's stored fields (duration from its timestamps; costs once frozen at
    resolve), the review's sections, the action items, then the timeline: the review's own
    timeline section when it has one (pre-filled at start_review, perhaps edited), else the
    merged timeline as it stands. A fixed number of queries at any size.
    """
    mi = (
        MajorIncident.objects.select_related("incident")
        .prefetch_related("affected_services")
        .get(pk=mi.pk if isinstance(mi, MajorIncident) else mi)
    )
    review = PostIncidentReview.objects.filter(major_incident=mi).first()
    items = list(review.action_items.all()) if review else []
    names = _user_names([mi.manager_id, mi.comms_lead_id, mi.tech_lead_id, *(i.owner_id for i in items)])
    services = ", ".join(f"{inline(s.name)} ({s.slug})" for s in mi.affected_services.all())

    lines = [f"# Post-incident review: {mi.number} {inline(mi.title)}", ""]
    facts = [
        ("State", mi.get_state_display()),
        ("Primary incident", mi.incident.number if mi.incident_id else ""),
        ("Affected services", services),
        ("Major incident manager", names.get(mi.manager_id, "")),
        ("Communications lead", names.get(mi.comms_lead_id, "")),
        ("Technical lead", names.get(mi.tech_lead_id, "")),
        ("Bridge", mi.bridge_url),
        ("Chat channel", mi.chat_channel),
    ]
    lines += [f"- **{label}**: {inline(value)}" for label, value in facts if value]
    lines += ["", "## Times (UTC)", "", "| moment | time |", "| --- | --- |"]
    moments = [
        ("Impact started", mi.impact_started_at),
        ("Detected", mi.detected_at),
        ("Declared", mi.declared_at),
        ("Mitigated", mi.mitigated_at),
        ("Resolved", mi.resolved_at),
        ("Review started", mi.review_started_at),
        ("Closed", mi.closed_at),
    ]
    lines += [f"| {label} | {_utc(moment)} |" for label, moment in moments if moment]

    impact = [
        ("Impact summary", inline(mi.impact_summary)),
        ("Customers affected", "" if mi.customers_affected is None else str(mi.customers_affected)),
        ("Duration (impact start to resolution)", _duration(mi.impact_started_at, mi.resolved_at)),
        ("Time to detect", _duration(mi.impact_started_at, mi.detected_at)),
        ("Time to declare", _duration(mi.detected_at, mi.declared_at)),
        ("Time to mitigate", _duration(mi.impact_started_at, mi.mitigated_at)),
        ("Estimated downtime cost", _cost(mi.estimated_cost)),
        ("Response effort cost (not in the downtime cost)", _cost(mi.response_effort_cost)),
    ]
    lines += ["", "## Business impact", ""]
    shown = [f"- **{label}**: {value}" for label, value in impact if value]
    lines += shown or ["Not recorded."]

    for heading, name in SECTIONS:
        text = (getattr(review, name, "") or "").strip()
        lines += ["", f"## {heading}", "", text or "_Not written yet._"]

    lines += ["", "## Action items", ""]
    if items:
        lines += ["| # | action | owner | due | done |", "| --- | --- | --- | --- | --- |"]
        for index, item in enumerate(items, 1):
            cells = (
                index,
                item.title,
                names.get(item.owner_id, "unassigned"),
                item.due_date.isoformat() if item.due_date else "no due date",
                "yes" if item.done else "no",
            )
            lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    else:
        lines.append("None.")

    lines.append("")
    stored = (review.timeline_markdown if review else "").strip()
    if stored:
        lines.append(stored)
    else:
        lines += [f"## Timeline of {mi.number}: {inline(mi.title)}", "", *_timeline_table(mi)]
    return "\n".join(lines) + "\n"
