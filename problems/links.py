"""Linking incidents and major incidents to problems, and raising a problem from incidents.

An incident belongs to one problem at most (`Incident.problem`). Linking one that another open
problem holds is a 409 naming that problem unless the caller asks to `move` it; an incident of a
cancelled or closed problem links freely. A link to a resolved (or closed) problem is a
recurrence: counted, written on the timeline and told to problem managers, reopening nothing.
Both timelines record every link and unlink. `raise_problem` (open and link) is in `lifecycle`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from incidents import events as incident_events
from incidents.major import events as major_events
from incidents.major.links import find_incidents
from incidents.models import Incident, MajorIncident
from itsm.exceptions import Conflict, InvalidTransition
from problems import articles, common, events, notify, policy
from problems.choices import FIXED_STATES, OPEN_STATES
from problems.choices import ProblemState as S
from problems.models import Problem

KIND_INCIDENT = "incident"
KIND_MAJOR = "major_incident"


def _check_linkable(problem: Problem) -> None:
    if problem.state == S.CANCELLED:
        raise InvalidTransition(
            problem.number,
            "link",
            problem.state,
            [],
            reason=f"{problem.number} is cancelled; link the incidents to an open problem instead.",
        )


def find_major_incidents(values: Iterable, field: str = "major_incidents") -> list[MajorIncident]:
    """The major incidents `values` name (ids or numbers), in order; 400 naming unknown ones."""
    values = list(values) if isinstance(values, list | tuple) else None
    if not values:
        raise ValidationError({field: ["A non-empty list of major incident ids or numbers."]})
    ids = [int(v) for v in values if str(v).isdigit()]
    numbers = [str(v).upper() for v in values if not str(v).isdigit()]
    found = {}
    for mi in MajorIncident.objects.filter(pk__in=ids) | MajorIncident.objects.filter(number__in=numbers):
        found[mi.pk] = found[mi.number] = mi
    keys = [int(v) if str(v).isdigit() else str(v).upper() for v in values]
    unknown = [str(k) for k in keys if k not in found]
    if unknown:
        raise ValidationError({field: [f"Unknown major incident(s): {', '.join(unknown)}."]})
    return list({found[k].pk: found[k] for k in keys}.values())


def _held_elsewhere(problem: Problem, records: list) -> list[str]:
    """'INC0000012 (PRB0000003)' for each record another open problem holds."""
    other_ids = {r.problem_id for r in records if r.problem_id and r.problem_id != problem.pk}
    open_others = dict(Problem.objects.filter(pk__in=other_ids, state__in=OPEN_STATES).values_list("pk", "number"))
    return [f"{r.number} ({open_others[r.problem_id]})" for r in records if r.problem_id in open_others]


def _attach_incidents(problem: Problem, actor, incidents: list[Incident]) -> list[Incident]:
    """Point the incidents at `problem` (they are locked), with both timelines and recurrences."""
    now = timezone.now()
    attached = []
    recurrences = []
    for incident in incidents:
        if incident.problem_id == problem.pk:
            continue
        if incident.problem_id:
            events.unlinked(
                incident.problem_id, actor, KIND_INCIDENT, incident.pk, incident.number, moved_to=problem.pk
            )
            incident_events.unlinked(incident, actor, "problem", incident.problem_id)
        Incident.objects.filter(pk=incident.pk).update(problem=problem, version=F("version") + 1, updated_at=now)
        incident.problem_id = problem.pk
        events.linked(problem, actor, KIND_INCIDENT, incident.pk, incident.number)
        incident_events.linked(incident, actor, "problem", problem.pk)
        attached.append(incident)
        if problem.state in FIXED_STATES:
            recurrences.append(incident)
    if recurrences:
        Problem.objects.filter(pk=problem.pk).update(recurrence_count=F("recurrence_count") + len(recurrences))
        problem.recurrence_count += len(recurrences)
        for incident in recurrences:
            events.recurrence(problem, actor, incident.pk, incident.number)
        notify.emit_event(
            problem,
            "problem.recurrence",
            actor,
            extra={"incidents": [i.number for i in recurrences], "recurrence_count": problem.recurrence_count},
        )
    return attached


@transaction.atomic
def link_incidents(problem: Problem | int, *, actor, incidents: list, move: bool = False) -> list[Incident]:
    """Link incidents (instances, ids or numbers) to the problem; returns the newly linked ones.

    409 naming the other problem of an incident an open problem holds, unless `move`.
    """
    problem = common.lock(problem)
    common.require(policy.can_change(actor, problem))
    _check_linkable(problem)
    found = find_incidents(incidents)
    locked = list(Incident.objects.select_for_update().filter(pk__in=[i.pk for i in found]).order_by("id"))
    held = _held_elsewhere(problem, locked)
    if held and not move:
        raise Conflict(
            f'Linked to another open problem: {", ".join(held)}. Send "move": true to move them to {problem.number}.',
            errors={"incidents": [f"{h} is linked to another open problem." for h in held]},
        )
    attached = _attach_incidents(problem, actor, locked)
    if attached:
        common.save(problem)
        # The article covers the services of the incidents it explains.
        articles.sync(problem, actor)
    return attached


@transaction.atomic
def unlink_incident(problem: Problem | int, *, actor, incident: Incident | int | str) -> None:
    """Unlink one incident (404 when it is not linked to this problem)."""
    problem = common.lock(problem)
    common.require(policy.can_change(actor, problem))
    (found,) = find_incidents([incident], field="incident")
    incident = Incident.objects.select_for_update().get(pk=found.pk)
    if incident.problem_id != problem.pk:
        raise Http404(f"{incident.number} is not linked to {problem.number}.")
    Incident.objects.filter(pk=incident.pk).update(problem=None, version=F("version") + 1, updated_at=timezone.now())
    events.unlinked(problem, actor, KIND_INCIDENT, incident.pk, incident.number)
    incident_events.unlinked(incident, actor, "problem", problem.pk)
    common.save(problem)


@transaction.atomic
def link_major_incidents(
    problem: Problem | int, *, actor, major_incidents: list, move: bool = False
) -> list[MajorIncident]:
    """Link major incidents to the problem (the same 409 / `move` rule as incidents)."""
    problem = common.lock(problem)
    common.require(policy.can_change(actor, problem))
    _check_linkable(problem)
    found = find_major_incidents(major_incidents)
    locked = list(MajorIncident.objects.select_for_update().filter(pk__in=[m.pk for m in found]).order_by("id"))
    held = _held_elsewhere(problem, locked)
    if held and not move:
        raise Conflict(
            f'Linked to another open problem: {", ".join(held)}. Send "move": true to move them to {problem.number}.',
            errors={"major_incidents": [f"{h} is linked to another open problem." for h in held]},
        )
    attached = _attach_major(problem, actor, locked)
    if attached:
        common.save(problem)
    return attached


def _attach_major(problem: Problem, actor, major_incidents: list[MajorIncident]) -> list[MajorIncident]:
    attached = []
    for mi in major_incidents:
        if mi.problem_id == problem.pk:
            continue
        if mi.problem_id:
            events.unlinked(mi.problem_id, actor, KIND_MAJOR, mi.pk, mi.number, moved_to=problem.pk)
        MajorIncident.objects.filter(pk=mi.pk).update(problem=problem, version=F("version") + 1)
        mi.problem_id = problem.pk
        events.linked(problem, actor, KIND_MAJOR, mi.pk, mi.number)
        major_events.write(mi, "linked", actor, {"kind": "problem", "target": problem.pk, "number": problem.number})
        attached.append(mi)
    return attached


@transaction.atomic
def unlink_major_incident(problem: Problem | int, *, actor, major_incident) -> None:
    """Unlink one major incident (404 when it is not linked to this problem)."""
    problem = common.lock(problem)
    common.require(policy.can_change(actor, problem))
    (found,) = find_major_incidents([major_incident], field="major_incident")
    mi = MajorIncident.objects.select_for_update().get(pk=found.pk)
    if mi.problem_id != problem.pk:
        raise Http404(f"{mi.number} is not linked to {problem.number}.")
    MajorIncident.objects.filter(pk=mi.pk).update(problem=None, version=F("version") + 1)
    events.unlinked(problem, actor, KIND_MAJOR, mi.pk, mi.number)
    major_events.write(mi, "unlinked", actor, {"kind": "problem", "target": problem.pk, "number": problem.number})
    common.save(problem)


def move_all(problem: Problem, survivor: Problem, actor) -> None:
    """A cancelled duplicate hands its incidents and major incidents to the surviving problem
    (inside the cancel's transaction)."""
    survivor = common.lock(survivor)
    incidents = list(Incident.objects.select_for_update().filter(problem=problem).order_by("id"))
    majors = list(MajorIncident.objects.select_for_update().filter(problem=problem).order_by("id"))
    moved = _attach_incidents(survivor, actor, incidents) + _attach_major(survivor, actor, majors)
    if moved:
        common.save(survivor)
