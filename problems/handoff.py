"""The major incident hand-off: a closed major incident opens (or joins) a problem.

`connect()` subscribes `on_major_incident_closed` to the `major_incident.closed` domain event
(published by `incidents.major.lifecycle` with the review: summary, root cause, lessons learned,
the primary incident and every incident of the major incident). The handler, as the system account:

- when the primary incident already belongs to an open problem, links the major incident and its
  incidents to that problem;
- otherwise opens a problem (source `reactive`, `source_major_incident` the major incident, title
  from it, description from the review's summary, root cause and lessons learned from the review,
  service, category, impact and urgency from the primary incident) and links them to it.

Incidents another open problem holds are skipped, not moved (and named in the new problem's
description). Exactly once whatever the deliveries: the major incident row is locked, a major
incident already linked to a problem (or a problem already opened from it) changes nothing, and
the unique constraint `problem_one_per_major_incident` refuses a second problem from it (caught
in a savepoint).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from incidents.models import Incident, MajorIncident
from itsm import events as domain_events
from itsm.models import DomainEvent
from problems import lifecycle, links
from problems.choices import OPEN_STATES, ProblemSource, ProblemState
from problems.models import Problem

logger = logging.getLogger(__name__)

EVENT = "major_incident.closed"


@dataclass
class HandOff:
    """What one delivery did: the problem (None when the major incident is gone), whether it was
    opened now, whether the delivery changed nothing (already handed off), the incidents skipped."""

    problem: Problem | None
    opened: bool = False
    duplicate: bool = False
    skipped: list[str] = field(default_factory=list)


def connect() -> None:
    """Subscribe the hand-off to `major_incident.closed` (called from ProblemsConfig.ready())."""
    domain_events.subscribe(EVENT, on_major_incident_closed)


def on_major_incident_closed(event: DomainEvent) -> None:
    """The domain event subscriber (runs in the dispatcher's transaction)."""
    hand_off(event.payload)


def _already_handed_off(mi: MajorIncident) -> Problem | None:
    existing = Problem.objects.filter(source_major_incident=mi).first()
    if existing is not None:
        return existing
    if mi.problem_id is not None:
        linked = Problem.objects.filter(pk=mi.problem_id).exclude(state=ProblemState.CANCELLED).first()
        if linked is not None:
            return linked
    return None


def _open_problem_of(incident: Incident | None) -> Problem | None:
    if incident is None or incident.problem_id is None:
        return None
    return Problem.objects.filter(pk=incident.problem_id, state__in=OPEN_STATES).first()


def _linkable(problem_id: int | None, incident_ids: list[int]) -> tuple[list[int], list[str]]:
    """The incidents that may join the problem, and 'INC (PRB)' for those another open problem holds."""
    rows = Incident.objects.filter(pk__in=incident_ids).order_by("id").values_list("pk", "number", "problem_id")
    held_by = dict(
        Problem.objects.filter(pk__in={p for _, _, p in rows if p}, state__in=OPEN_STATES).values_list("pk", "number")
    )
    ok, skipped = [], []
    for pk, number, holder in rows:
        if holder and holder != problem_id and holder in held_by:
            skipped.append(f"{number} ({held_by[holder]})")
        else:
            ok.append(pk)
    return ok, skipped


def _new_problem(mi: MajorIncident, primary: Incident | None, payload: dict, system, skipped: list[str]) -> Problem:
    description = (payload.get("summary") or "").strip() or f"Opened from the review of {mi.number}."
    if skipped:
        description += "\n\nNot linked (held by another open problem): " + ", ".join(skipped) + "."
    fields = {
        "description": description,
        "root_cause": payload.get("root_cause") or "",
        "lessons_learned": payload.get("lessons_learned") or "",
    }
    if primary is not None:
        fields.update(
            service=primary.service, category=primary.category, impact=primary.impact, urgency=primary.urgency
        )
        if primary.service_id and not primary.service.active:
            fields.pop("service")  # a retired service cannot carry a new problem
    title = (payload.get("title") or mi.title or mi.number)[:255]
    return lifecycle.open_problem(
        actor=system, title=title, source=ProblemSource.REACTIVE, source_major_incident=mi, **fields
    )


@transaction.atomic
def hand_off(payload: dict) -> HandOff:
    """Open (or join) the problem of a closed major incident described by `payload`; exactly once."""
    from incidents.services import system_user  # here, not at the top: incidents.services imports much

    mi = MajorIncident.objects.select_for_update().filter(pk=payload.get("id")).first()
    if mi is None:
        logger.warning("major_incident.closed for a major incident that no longer exists: %s", payload.get("id"))
        return HandOff(None)
    existing = _already_handed_off(mi)
    if existing is not None:
        return HandOff(existing, duplicate=True)
    system = system_user()
    primary = Incident.objects.select_related("service").filter(pk=payload.get("incident") or mi.incident_id).first()
    incident_ids = [int(i) for i in payload.get("incidents") or []] or ([primary.pk] if primary else [])
    problem = _open_problem_of(primary)
    opened = problem is None
    ids, skipped = _linkable(problem.pk if problem else None, incident_ids)
    if problem is None:
        try:
            with transaction.atomic():
                problem = _new_problem(mi, primary, payload, system, skipped)
        except IntegrityError:
            # Another delivery opened it between our check and our insert (the unique constraint).
            return HandOff(Problem.objects.filter(source_major_incident=mi).first(), duplicate=True)
    links.link_major_incidents(problem, actor=system, major_incidents=[mi.pk])
    if ids:
        links.link_incidents(problem, actor=system, incidents=ids, move=False)
    if skipped:
        logger.info("%s: incidents of %s left with their open problems: %s", problem.number, mi.number, skipped)
    return HandOff(problem, opened=opened, skipped=skipped)
