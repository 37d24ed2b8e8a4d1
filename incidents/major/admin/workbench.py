"""The major incident workbench: everything the change page shows, read in a constant number of queries.

An MIM runs the incident from this one page: header (state, live duration, cost so far, the
transitions allowed now), the response team and bridge, responders, the update composer with
the cadence countdown, linked incidents, the merged timeline, business impact, and the review.
Each list is capped and counted with one aggregate query, so a record with 500 linked incidents
and 200 updates costs the same queries as an empty one. Which forms appear is asked of
`incidents.major.policy`, the same decisions the services enforce.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, prefetch_related_objects
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from incidents.admin.display import PRIORITY_COLOURS, STATE_COLOURS, short_duration
from incidents.choices import TERMINAL_STATES, IncidentState
from incidents.major import history, policy
from incidents.major.choices import LIVE_STATES, MajorIncidentState, MajorTransition
from incidents.major.models import ActionItem, MajorIncident, PostIncidentReview, StakeholderUpdate
from incidents.models import Incident
from incidents.narration import TimelineNarrator, person
from itsm.models import Service
from itsm.timeline import MergedEntry

from .display import MI_STATE_COLOURS, UPDATE_STATUS_COLOURS, MajorNarrator, duration, late_text, money
from .forms import (
    TRANSITION_FORMS,
    ActionItemForm,
    LinkNumbersForm,
    PageForm,
    RecordForm,
    ReviewForm,
    UpdateForm,
)

S = MajorIncidentState
RESPONDERS_LIMIT = 100  # responders listed (counted beyond)
UPDATES_LIMIT = 20  # newest stakeholder updates listed (compliance counts them all)
LINKED_LIMIT = 50  # newest linked incidents listed (counted by state beyond)
TIMELINE_PER_PAGE = 50  # merged timeline entries per page, newest first
ACTION_ITEMS_LIMIT = 100
REVIEW_STATES = (S.ACTIVE, S.RESOLVED, S.IN_REVIEW)  # the review may be drafted while it runs
EDITABLE_STATES = (S.PROPOSED, S.ACTIVE, S.RESOLVED, S.IN_REVIEW)  # roles and bridge still change
TRANSITION_ICONS = {
    "declare": "campaign",
    "reject": "block",
    "resolve": "task_alt",
    "start_review": "rate_review",
    "close": "lock",
}
# Transitions that ask for something (a reason, the linked incidents' resolution) open a small form.
TRANSITIONS_WITH_FIELDS = {"reject", "resolve"}


@dataclass(frozen=True)
class Abilities:
    """What this user may do on this record now (each one a policy decision, plus the state)."""

    run: bool  # roles, bridge, responders, links
    post_update: bool
    edit_review: bool
    transitions: tuple[str, ...]
    reason: str  # why the page is read-only for this user ('' when they may run it)


def abilities(user, mi: MajorIncident) -> Abilities:
    """The buttons this user sees on `mi` (the services decide the same way when clicked)."""
    from incidents.major import lifecycle

    run = policy.can_run(user, mi)
    live = mi.state in LIVE_STATES
    return Abilities(
        run=bool(run) and mi.state in EDITABLE_STATES,
        post_update=bool(policy.can_post_update(user, mi)) and live,
        edit_review=bool(policy.can_edit_review(user, mi)) and mi.state in REVIEW_STATES,
        transitions=tuple(lifecycle.available_transitions(mi, user)),
        reason="" if run else run.reason,
    )


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:incidents_majorincident_{name}", args=args)


def build(request: HttpRequest, mi: MajorIncident, *, bound: Mapping[str, Any] | None = None) -> dict:
    """The workbench's template context; `bound` replaces a form with the one just submitted (errors)."""
    from incidents.major import impact

    bound = dict(bound or {})
    user = request.user
    can = abilities(user, mi)
    now = timezone.now()
    # The services once, for the header, the team form and the cost (business_impact reads them too).
    prefetch_related_objects(
        [mi],
        Prefetch("affected_services", queryset=Service.objects.order_by("name")),
        Prefetch("stakeholders", queryset=get_user_model().objects.order_by("first_name", "last_name", "id")),
    )
    services = list(mi.affected_services.all())
    stakeholders = list(mi.stakeholders.all())
    review: PostIncidentReview | None = getattr(mi, "review", None) if has_review(mi) else None

    context: dict[str, Any] = {
        "mi": mi,
        "can": can,
        "state_colour": MI_STATE_COLOURS.get(mi.state, "default"),
        "primary": _incident_row(mi.incident, mi),
        "affected_services": services,
        "header": _header(mi, impact.business_impact(mi, now=now), now),
        "transitions": _transitions(mi, can, bound),
        "team": _team(mi, can, services, stakeholders, bound),
        "responders": _responders(request, mi, can, bound),
        "updates": _updates(mi, can, now, bound),
        "linked": _linked(mi, can, bound),
        "timeline": _timeline(request, mi),
        "review": _review(mi, review, can, user, bound),
        "markdown_url": url("timeline_markdown", mi.pk),
        "changelist_url": reverse("admin:incidents_majorincident_changelist"),
    }
    return context


def has_review(mi: MajorIncident) -> bool:
    """Whether the record has its review row (read with it by `select_related`: no query)."""
    try:
        mi.review  # noqa: B018 (read with the record: select_related, no query)
    except PostIncidentReview.DoesNotExist:
        return False
    return True


def _incident_row(incident: Incident, mi: MajorIncident) -> dict:
    return {
        "incident": incident,
        "url": reverse("admin:incidents_incident_change", args=[incident.pk]),
        "state_colour": STATE_COLOURS.get(incident.state, "default"),
        "priority_colour": PRIORITY_COLOURS.get(incident.priority, "default"),
        "is_primary": incident.pk == mi.incident_id,
        "is_open": incident.state not in TERMINAL_STATES and incident.state != IncidentState.RESOLVED,
    }


def _header(mi: MajorIncident, bi, now) -> dict:
    """Number, state, live duration and cost so far."""
    start = bi.impact_started_at
    end = bi.resolved_at
    return {
        "impact": bi,
        "duration": duration(bi.duration),
        "timer_start": start.isoformat() if start else "",
        "timer_end": end.isoformat() if end else "",
        "estimated_cost": money(bi.estimated_cost),
        "response_effort_cost": money(bi.response_effort_cost),
        "live": bi.live,
        "rows": [
            ("Impact started", bi.impact_started_at, None),
            ("Detected", bi.detected_at, ("Time to detect", duration(bi.time_to_detect))),
            ("Declared", bi.declared_at, ("Time to declare", duration(bi.time_to_declare))),
            ("Mitigated", bi.mitigated_at, ("Time to mitigate", duration(bi.time_to_mitigate))),
            ("Resolved", bi.resolved_at, ("Time to restore", duration(bi.time_to_restore))),
            ("Closed", bi.closed_at, None),
        ],
    }


def _transitions(mi: MajorIncident, can: Abilities, bound: dict) -> list[dict]:
    out = []
    for name in can.transitions:
        form_class = TRANSITION_FORMS.get(name)
        if form_class is None:
            continue
        form = bound.get(f"transition_{name}") or form_class(initial={"version": mi.version}, prefix=name)
        out.append(
            {
                "name": name,
                "label": MajorTransition(name).label if name in MajorTransition.values else name,
                "icon": TRANSITION_ICONS.get(name, "arrow_forward"),
                "form": form,
                "url": url("transition", mi.pk, name),
                "has_fields": name in TRANSITIONS_WITH_FIELDS,
                "open": form.is_bound,
                "danger": name == "reject",
            }
        )
    return out


def _team(mi: MajorIncident, can: Abilities, services: list, stakeholders: list, bound: dict) -> dict:
    return {
        "roles": [
            ("Major incident manager", person(mi.manager) or "—"),
            ("Communications lead", person(mi.comms_lead) or "—"),
            ("Technical lead", person(mi.tech_lead) or "—"),
        ],
        "stakeholders": ", ".join(person(u) for u in stakeholders) or "—",
        "form": (bound.get("record") or RecordForm(mi, services, stakeholders, prefix="record")) if can.run else None,
        "url": url("record", mi.pk),
    }


def _responders(request: HttpRequest, mi: MajorIncident, can: Abilities, bound: dict) -> dict:
    rows = list(mi.responders.select_related("user", "assignment_group").order_by("id")[: RESPONDERS_LIMIT + 1])
    totals = mi.responders.aggregate(total=Count("id"), acknowledged=Count("acknowledged_at"))
    live = mi.state in LIVE_STATES
    responders = []
    for responder in rows[:RESPONDERS_LIMIT]:
        responder.major_incident = mi  # the policy reads the record's roles; no query
        waiting = responder.acknowledged_at is None
        responders.append(
            {
                "responder": responder,
                "name": person(responder.user),
                "waiting_for": short_duration(timezone.now() - responder.paged_at)
                if waiting and responder.paged_at
                else "",
                "unanswered": responder.unanswered_at is not None,
                "page_again_url": url("page_again", mi.pk, responder.pk) if can.run and live and waiting else "",
                "acknowledge_url": (
                    url("acknowledge", mi.pk, responder.pk)
                    if waiting and live and policy.can_acknowledge(request.user, responder)
                    else ""
                ),
            }
        )
    return {
        "rows": responders,
        "total": totals["total"],
        "acknowledged": totals["acknowledged"],
        "truncated": len(rows) > RESPONDERS_LIMIT,
        "form": (bound.get("page") or PageForm(prefix="page")) if can.run and live else None,
        "url": url("page", mi.pk),
    }


def _updates(mi: MajorIncident, can: Abilities, now, bound: dict) -> dict:
    from incidents.major import updates as update_service

    posted = list(
        StakeholderUpdate.objects.filter(major_incident=mi)
        .select_related("author")
        .order_by("-posted_at", "-id")[:UPDATES_LIMIT]
    )
    compliance = update_service.cadence_compliance(mi)
    due = mi.next_update_due_at
    overdue = due is not None and due <= now and mi.state == S.ACTIVE
    return {
        "rows": [
            {
                "update": u,
                "author": person(u.author) or "system",
                "status_colour": UPDATE_STATUS_COLOURS.get(u.status, "default"),
                "compliance": late_text(u.late_seconds),
                "late": bool(u.late_seconds),
            }
            for u in posted
        ],
        "total": compliance.get("updates", len(posted)),
        "compliance": compliance,
        "worst_late": short_duration(compliance.get("worst_late_seconds") or 0),
        "next_due": due if mi.state == S.ACTIVE else None,
        "next_due_iso": due.isoformat() if due and mi.state == S.ACTIVE else "",
        "countdown": (
            ("overdue by " if overdue else "due in ") + short_duration(abs((due - now).total_seconds()))
            if due and mi.state == S.ACTIVE
            else ""
        ),
        "overdue": overdue,
        "cadence": mi.update_cadence_minutes,
        "form": (bound.get("update") or UpdateForm(mi, prefix="update")) if can.post_update else None,
        "url": url("post_update", mi.pk),
    }


def _linked(mi: MajorIncident, can: Abilities, bound: dict) -> dict:
    others = Incident.objects.filter(major_incident=mi).exclude(pk=mi.incident_id)
    rows = list(
        others.only("id", "number", "title", "state", "priority", "major_incident_id").order_by("-id")[
            : LINKED_LIMIT + 1
        ]
    )
    by_state = dict(others.order_by().values_list("state").annotate(n=Count("id")))
    total = sum(by_state.values())
    live = mi.state in LIVE_STATES
    return {
        "rows": [
            {
                **_incident_row(incident, mi),
                "unlink_url": url("unlink", mi.pk, incident.pk) if can.run and live else "",
            }
            for incident in rows[:LINKED_LIMIT]
        ],
        "total": total,
        "by_state": [
            {"label": IncidentState(state).label, "count": n, "colour": STATE_COLOURS.get(state, "default")}
            for state, n in sorted(by_state.items(), key=lambda kv: list(IncidentState.values).index(kv[0]))
        ],
        "truncated": total > LINKED_LIMIT,
        "more_url": reverse("admin:incidents_incident_changelist") + f"?major_incident__id__exact={mi.pk}",
        "form": (bound.get("link") or LinkNumbersForm(prefix="link")) if can.run and live else None,
        "url": url("link", mi.pk),
    }


def _timeline(request: HttpRequest, mi: MajorIncident) -> dict:
    """One page of the merged timeline, newest first, with record numbers, actors and sentences."""
    try:
        page = max(int(request.GET.get("tl", "1")), 1)
    except ValueError:
        page = 1
    total = history.merged_rows(mi).count()
    pages = max((total + TIMELINE_PER_PAGE - 1) // TIMELINE_PER_PAGE, 1)
    page = min(page, pages)
    offset = (page - 1) * TIMELINE_PER_PAGE
    sources = history.sources(mi)
    rows = history.merged_rows(mi).order_by("-at", "-timeline_source", "-id")[offset : offset + TIMELINE_PER_PAGE]
    entries = [
        MergedEntry(
            source=sources[index].label,
            model=sources[index].queryset.model,
            record_id=record_id,
            id=pk,
            type=type_,
            actor_id=actor_id,
            at=at,
            data=data,
        )
        for index, record_id, pk, type_, actor_id, at, data in rows
    ]
    numbers = history.record_numbers(mi, entries)
    actor_ids = {e.actor_id for e in entries if e.actor_id}
    User = get_user_model()
    actors = {u.pk: person(u) for u in User.objects.filter(pk__in=actor_ids)} if actor_ids else {}
    major = [e for e in entries if e.source == history.MAJOR]
    minor = [e for e in entries if e.source != history.MAJOR]
    major_narrator = MajorNarrator(major) if major else None
    incident_narrator = TimelineNarrator(minor) if minor else None
    items = []
    for entry in entries:
        narrator = major_narrator if entry.source == history.MAJOR else incident_narrator
        items.append(
            {
                "entry": entry,
                "record": numbers.get((entry.source, entry.record_id), ""),
                "is_major": entry.source == history.MAJOR,
                "actor": actors.get(entry.actor_id, "system") if entry.actor_id else "system",
                "text": narrator.sentence(entry),
                "type_label": entry.get_type_display(),
            }
        )
    base = url("change", mi.pk)
    return {
        "items": items,
        "total": total,
        "page": page,
        "pages": pages,
        "previous_url": f"{base}?tl={page - 1}#timeline" if page > 1 else "",
        "next_url": f"{base}?tl={page + 1}#timeline" if page < pages else "",
    }


def _review(mi: MajorIncident, review: PostIncidentReview | None, can: Abilities, user, bound: dict) -> dict:
    items: list[ActionItem] = []
    if review is not None:
        prefetch_related_objects(
            [review],
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner").order_by("id")),
        )
        items = list(review.action_items.all())
    if review is not None:
        missing = review.missing()
    else:
        missing = [f"{name} is empty" for name in PostIncidentReview.REQUIRED_FIELDS]
    rows = []
    if review is not None:
        review.major_incident = mi  # the policy reads review.major_incident; no query
    for item in items[:ACTION_ITEMS_LIMIT]:
        item.review = review
        editable = mi.state in REVIEW_STATES and bool(policy.can_update_action_item(user, item))
        rows.append(
            {
                "item": item,
                "owner": person(item.owner) or "—",
                "form": (bound.get(f"item-{item.pk}") or ActionItemForm(item=item)) if editable else None,
                "url": url("action_item", mi.pk, item.pk),
            }
        )
    return {
        "review": review,
        "open": mi.state in (*REVIEW_STATES, S.CLOSED),
        "missing": missing,
        "complete": not missing,
        "fields": [
            (label, getattr(review, name, "") if review else "")
            for name, label in (
                ("summary", "Summary"),
                ("root_cause", "Root cause"),
                ("contributing_factors", "Contributing factors"),
                ("went_well", "What went well"),
                ("went_badly", "What went badly"),
                ("lessons_learned", "Lessons learned"),
            )
        ],
        "form": (bound.get("review") or ReviewForm(review, prefix="review")) if can.edit_review else None,
        "url": url("review", mi.pk),
        "items": rows,
        "items_truncated": len(items) > ACTION_ITEMS_LIMIT,
        "item_form": (bound.get("new_item") or ActionItemForm(prefix="new-item")) if can.edit_review else None,
        "item_url": url("add_action_item", mi.pk),
        "markdown_url": url("review_markdown", mi.pk),
    }


def forms_of(context: dict):
    """Every form the workbench context shows (their media go into the page's head)."""
    for key in ("team", "responders", "updates", "linked", "review"):
        section = context.get(key) or {}
        for name in ("form", "item_form"):
            if section.get(name) is not None:
                yield section[name]
        for row in section.get("items", []) if key == "review" else []:
            if row.get("form") is not None:
                yield row["form"]
    for transition in context.get("transitions", []):
        yield transition["form"]
