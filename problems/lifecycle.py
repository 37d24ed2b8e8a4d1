"""Problem use cases of the record: open, edit, and the transitions.

Every function runs in one transaction: lock the record, check the client's version, ask
`problems.policy`, validate (one ValidationError naming every bad field), change, save with a
version bump, write the timeline, queue notifications (delivered after commit). Nothing is
written on any refusal. Errors: ValidationError (400), PermissionDenied (403),
InvalidTransition / Conflict (409), StaleRecord (412).

A transition's field may come in its body or have been set before (PATCH); a value in the body
is written to the record (with a `field_changed` event) before the transition runs.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django_fsm import can_proceed

from incidents import services as incident_services
from incidents.choices import OPEN_STATES as OPEN_INCIDENT_STATES
from incidents.choices import ResolutionCode
from incidents.models import Incident
from incidents.policy import can_transition as can_transition_incident
from itsm.exceptions import InvalidTransition
from itsm.models import AssignmentGroup, Category, PriorityMatrixEntry, Service
from itsm.numbering import next_number
from problems import articles, common, events, links, notify, policy
from problems.choices import FISHBONE_CATEGORIES, OPEN_STATES, ProblemSource, ProblemTransition, RcaMethod
from problems.choices import ProblemState as S
from problems.models import Problem

User = get_user_model()

# Fields open_problem() takes and update_problem() (PATCH) changes.
EDITABLE_FIELDS = (
    "title",
    "description",
    "service",
    "category",
    "impact",
    "urgency",
    "assignment_group",
    "owner",
    "rca_method",
    "rca_notes",
    "root_cause",
    "contributing_factors",
    "workaround",
    "fix",
    "fix_reference",
    "lessons_learned",
)
FK_FIELDS = {"service": Service, "category": Category, "assignment_group": AssignmentGroup, "owner": User}
# What each transition takes in its body: {field: required}. "Required" is satisfied by the
# body or by the value already on the record; mark_known_error needs either of its two.
TRANSITION_FIELDS: dict[str, dict[str, bool]] = {
    "investigate": {"owner": True},
    "mark_known_error": {"root_cause": False, "workaround": False},
    "resolve": {"fix": True, "fix_reference": False, "resolve_linked": False},
    "close": {"lessons_learned": True},
    "cancel": {"reason": True, "duplicate_of": False},
}
TRANSITION_NAMES = list(TRANSITION_FIELDS)
# Body fields written to the record before the transition (body name -> model field).
RECORD_FIELDS = {
    "owner": "owner",
    "root_cause": "root_cause",
    "workaround": "workaround",
    "fix": "fix",
    "fix_reference": "fix_reference",
    "lessons_learned": "lessons_learned",
    "reason": "cancel_reason",
}
# Fields whose change the known error article follows.
WORKAROUND_NOTICE = "problem.workaround_changed"


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def available_transitions(problem: Problem, user) -> list[str]:
    """Names of the transitions `user` may run on `problem` from its current state."""
    return [
        name
        for name in TRANSITION_NAMES
        if can_proceed(getattr(problem, name), check_conditions=False) and policy.can_transition(user, problem, name)
    ]


def transition_requirements(name: str) -> dict[str, bool]:
    """The body fields of a transition: {field: required}."""
    return dict(TRANSITION_FIELDS[name])


# --- validation ---------------------------------------------------------------------------------
def _validate_rca_notes(method: str, notes, errors: dict) -> None:
    if notes in (None, {}):
        return
    if not isinstance(notes, dict):
        errors["rca_notes"] = ["An object (see the method's shape)."]
        return
    if method == RcaMethod.FIVE_WHYS:
        whys = notes.get("whys")
        ok = (
            set(notes) == {"whys"}
            and isinstance(whys, list)
            and 1 <= len(whys) <= 10
            and all(
                isinstance(w, dict)
                and set(w) <= {"why", "answer"}
                and isinstance(w.get("why"), str)
                and w["why"].strip()
                and isinstance(w.get("answer", ""), str)
                for w in whys
            )
        )
        if not ok:
            errors["rca_notes"] = ['Five whys: {"whys": [{"why": "...", "answer": "..."}, ...]}, 1 to 10 steps.']
    elif method == RcaMethod.FISHBONE:
        causes = notes.get("causes")
        ok = (
            set(notes) == {"causes"}
            and isinstance(causes, dict)
            and bool(causes)
            and all(
                isinstance(k, str)
                and k.strip()
                and isinstance(v, list)
                and all(isinstance(c, str) and c.strip() for c in v)
                for k, v in causes.items()
            )
        )
        if not ok:
            errors["rca_notes"] = [
                'Fishbone: {"causes": {"<category>": ["cause", ...]}}; categories such as '
                f"{', '.join(FISHBONE_CATEGORIES)}."
            ]
    elif method in (RcaMethod.TIMELINE, RcaMethod.OTHER):
        if set(notes) != {"text"} or not isinstance(notes.get("text"), str):
            errors["rca_notes"] = ['{"text": "..."}.']
    else:
        errors["rca_notes"] = ["Choose an RCA method (rca_method) before writing its notes."]


def _clean(problem: Problem, changes: dict) -> dict[str, Any]:
    """The changes, validated together against the record (every bad field named)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in FK_FIELDS and value is not None and not hasattr(value, "pk"):
            model = FK_FIELDS[name]
            found = model.objects.filter(pk=value).first() if str(value).isdigit() else None
            if found is None:
                errors[name] = [f"Unknown {name.replace('_', ' ')}: {value}."]
                continue
            value = found
        values[name] = value
    if "title" in values and _blank(values["title"]):
        errors["title"] = ["This field may not be blank."]
    for name in ("impact", "urgency"):
        if name in values and values[name] not in (1, 2, 3):
            errors[name] = ["1 (high), 2 (medium) or 3 (low)."]
    if values.get("service") is not None and not values["service"].active:
        errors["service"] = [f"Service '{values['service'].slug}' is retired."]
    if values.get("owner") is not None and not (decision := policy.can_own(values["owner"])):
        errors["owner"] = [decision.reason]
    if "rca_method" in values and values["rca_method"] not in ("", *RcaMethod.values):
        errors["rca_method"] = [f"Choose one of: {', '.join(RcaMethod.values)}."]
    method = values.get("rca_method", problem.rca_method)
    if "rca_notes" in values or ("rca_method" in values and problem.rca_notes):
        notes = values.get("rca_notes", problem.rca_notes)
        if "rca_notes" not in errors and "rca_method" not in errors:
            _validate_rca_notes(method, notes, errors)
        if values.get("rca_notes") is None and "rca_notes" in values:
            values["rca_notes"] = {}
    if "contributing_factors" in values:
        factors = values["contributing_factors"]
        if factors is None:
            values["contributing_factors"] = []
        elif not isinstance(factors, list) or not all(isinstance(f, str) and f.strip() for f in factors):
            errors["contributing_factors"] = ["A list of non-empty statements."]
    for name in ("description", "root_cause", "workaround", "fix", "fix_reference", "lessons_learned"):
        if name in values and values[name] is None:
            values[name] = ""
    if errors:
        raise ValidationError(errors)
    return values


def _apply(problem: Problem, actor, values: dict) -> set[str]:
    """Set the values, writing a `field_changed` event per real change; returns the changed names."""
    changed = set()
    for name, value in values.items():
        old = getattr(problem, name)
        if common.pk_of(old) == common.pk_of(value):
            continue
        setattr(problem, name, value)
        events.field_changed(problem, actor, name, common.plain(old), common.plain(value))
        changed.add(name)
    if changed & {"impact", "urgency"}:
        old = problem.priority
        problem.priority = PriorityMatrixEntry.objects.priority_for(problem.impact, problem.urgency)
        if old != problem.priority:
            events.field_changed(problem, actor, "priority", old, problem.priority)
    return changed


def _open_incident_assignees(problem: Problem) -> list[str]:
    ids = (
        Incident.objects.filter(problem=problem, state__in=OPEN_INCIDENT_STATES)
        .exclude(assignee=None)
        .values_list("assignee_id", flat=True)
        .distinct()
    )
    return [f"user:{i}" for i in sorted(ids)]


def _after_edit(problem: Problem, actor, changed: set[str]) -> list[notify.Occurrence]:
    """Keep the article in sync; a new workaround is communicated to the linked incidents' assignees."""
    occurrences = []
    if changed & set(articles.MIRRORED_FIELDS):
        articles.sync(problem, actor)
    if "workaround" in changed and problem.workaround.strip() and problem.state in (*OPEN_STATES, S.RESOLVED):
        occurrences.append(
            notify.Occurrence(
                WORKAROUND_NOTICE,
                actor,
                extra={"workaround": problem.workaround},
                recipients=_open_incident_assignees(problem) or None,
            )
        )
    return occurrences


# --- open and edit ------------------------------------------------------------------------------
@transaction.atomic
def open_problem(
    *,
    actor,
    title: str,
    source: str = ProblemSource.MANUAL,
    source_major_incident=None,
    cluster_key: str = "",
    **fields,
) -> Problem:
    """Record a new problem: number, priority from the matrix, timeline, `problem.created`.

    Routing: with no assignment group given, the service's owner group is used. Linking
    incidents is `problems.links.link_incidents` (raise_problem does both).
    """
    common.require(policy.can_create(actor))
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    if source not in ProblemSource.values:
        raise ValidationError({"source": [f"Choose one of: {', '.join(ProblemSource.values)}."]})
    problem = Problem(
        source=source,
        source_major_incident=source_major_incident,
        cluster_key=cluster_key,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    values = _clean(problem, {"title": title, **fields})
    if values.get("assignment_group") is None and values.get("service") is not None:
        values["assignment_group"] = values["service"].owner_group
    for name, value in values.items():
        setattr(problem, name, value)
    problem.priority = PriorityMatrixEntry.objects.priority_for(problem.impact, problem.urgency)
    problem.number = next_number("problem")
    problem.save()
    events.created(problem, actor)
    notify.emit_event(problem, "problem.created", actor)
    return problem


@transaction.atomic
def update_problem(problem: Problem | int, *, actor, changes: dict, expected_version: int | None = None) -> Problem:
    """Change the record's fields (never its state). A closed or cancelled problem is frozen (409)."""
    problem = common.lock(problem)
    common.check_version(problem, expected_version)
    common.require(policy.can_change(actor, problem))
    if problem.state in (S.CLOSED, S.CANCELLED):
        raise InvalidTransition(
            problem.number,
            "update",
            problem.state,
            [],
            reason=f"{problem.number} is {problem.state}; it can no longer be changed.",
        )
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    changed = _apply(problem, actor, _clean(problem, changes))
    if not changed:
        return problem
    common.save(problem)
    notify.emit_events(problem, _after_edit(problem, actor, changed))
    return problem


@transaction.atomic
def raise_problem(*, actor, incidents: list, title: str = "", move: bool = False, **fields) -> Problem:
    """Open a problem (source `reactive`) from incidents and link them: service, category and
    description come from the first incident unless given; the title defaults to its title."""
    found = links.find_incidents(incidents)
    first = found[0]
    defaults = {
        "service": first.service,
        "category": first.category,
        "description": first.description,
        "impact": min(i.impact for i in found),
        "urgency": min(i.urgency for i in found),
    }
    problem = open_problem(
        actor=actor, title=title or first.title, source=ProblemSource.REACTIVE, **{**defaults, **fields}
    )
    links.link_incidents(problem, actor=actor, incidents=[i.pk for i in found], move=move)
    return problem


# --- transitions --------------------------------------------------------------------------------
def _check_body(problem: Problem, name: str, payload: dict) -> dict[str, Any]:
    """Every body error at once: unknown fields, missing requirements (body or record), bad values."""
    spec = TRANSITION_FIELDS[name]
    errors: dict[str, list[str]] = {f: [f"Not a field of '{name}'."] for f in sorted(set(payload) - set(spec))}

    def has(field: str) -> bool:
        if not _blank(payload.get(field)):
            return True
        attr = RECORD_FIELDS.get(field)
        # serializable_value: the stored column (owner_id for the owner), no extra query.
        return attr is not None and field not in payload and not _blank(problem.serializable_value(attr))

    for field, required in spec.items():
        if required and not has(field):
            errors[field] = ["This field is required (in the body, or set on the problem before)."]
    if name == "mark_known_error" and not (has("root_cause") or has("workaround")):
        message = "A root cause or a workaround (or both) is required to mark a known error."
        errors["root_cause"] = errors["workaround"] = [message]
    if name == "resolve" and "resolve_linked" in payload and not isinstance(payload["resolve_linked"], bool):
        errors["resolve_linked"] = ["Either true or false."]
    values: dict[str, Any] = {}
    record_changes = {
        RECORD_FIELDS[f]: payload[f] for f in spec if f in RECORD_FIELDS and f in payload and f != "reason"
    }
    if "reason" in payload and not _blank(payload["reason"]):
        values["cancel_reason"] = payload["reason"]
    try:
        values.update(_clean(problem, {k: v for k, v in record_changes.items() if not (k != "owner" and v is None)}))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, messages)
    if name == "cancel" and payload.get("duplicate_of") is not None:
        target = _find_problem(payload["duplicate_of"])
        if target is None:
            errors["duplicate_of"] = [f"Unknown problem: {payload['duplicate_of']}."]
        elif target.pk == problem.pk:
            errors["duplicate_of"] = ["A problem cannot duplicate itself."]
        elif target.state not in OPEN_STATES:
            errors["duplicate_of"] = [f"{target.number} is {target.state}; point at the surviving open problem."]
        else:
            values["duplicate_of"] = target
    if errors:
        raise ValidationError(errors)
    return values


def _find_problem(value) -> Problem | None:
    if isinstance(value, Problem):
        return value
    text = str(value).strip()
    if text.isdigit():
        return Problem.objects.filter(pk=int(text)).first()
    return Problem.objects.filter(number=text.upper()).first()


@transaction.atomic
def run_transition(
    problem: Problem | int, name: str, *, actor, payload: dict | None = None, expected_version: int | None = None
) -> Problem:
    """Run transition `name` with its body fields (see TRANSITION_FIELDS); 409 from the wrong state."""
    if name not in TRANSITION_FIELDS:
        raise ValidationError({"name": [f"Unknown transition '{name}'. Known: {', '.join(TRANSITION_NAMES)}."]})
    payload = dict(payload or {})
    problem = common.lock(problem)
    common.check_version(problem, expected_version)
    common.require(policy.can_transition(actor, problem, name))
    method = getattr(problem, name)
    if not can_proceed(method, check_conditions=False):
        raise InvalidTransition(problem.number, name, problem.state, available_transitions(problem, actor))
    values = _check_body(problem, name, payload)
    duplicate_of = values.pop("duplicate_of", None)
    cancel_reason = values.pop("cancel_reason", None)
    changed = _apply(problem, actor, values)
    if cancel_reason is not None:
        problem.cancel_reason = cancel_reason
    if duplicate_of is not None:
        problem.duplicate_of = duplicate_of
    source = problem.state
    method()
    common.save(problem)
    extra: dict[str, Any] = {}
    if name == "cancel":
        extra["reason"] = problem.cancel_reason
        if duplicate_of is not None:
            extra["duplicate_of"] = duplicate_of.pk
    occurrences = _after_edit(problem, actor, changed - {"workaround"} if name == "mark_known_error" else changed)
    occurrences += _TRANSITION_EFFECTS[name](problem, actor, payload, extra)
    events.transitioned(problem, actor, name, source, problem.state, **extra)
    notify.emit_events(problem, occurrences)
    return problem


def _investigate(problem: Problem, actor, payload: dict, extra: dict) -> list[notify.Occurrence]:
    return []


def _mark_known_error(problem: Problem, actor, payload: dict, extra: dict) -> list[notify.Occurrence]:
    """Publish the known error article; the workaround goes to the linked open incidents' assignees."""
    article = articles.publish(problem, actor)
    extra["known_error"] = article.pk
    occurrences = [notify.Occurrence("problem.known_error", actor, extra={"known_error": article.pk})]
    if problem.workaround.strip():
        occurrences.append(
            notify.Occurrence(
                WORKAROUND_NOTICE,
                actor,
                extra={"workaround": problem.workaround},
                recipients=_open_incident_assignees(problem) or None,
            )
        )
    return occurrences


def _resolve(problem: Problem, actor, payload: dict, extra: dict) -> list[notify.Occurrence]:
    """With `resolve_linked`, every linked open incident is resolved `resolved_by_problem` through
    the incident service (one transition and one timeline event each)."""
    if payload.get("resolve_linked"):
        notes = f"Resolved by problem {problem.number}: {problem.fix}"
        body = {"resolution_code": ResolutionCode.RESOLVED_BY_PROBLEM, "resolution_notes": notes}
        resolved = []
        system = incident_services.system_user()
        for incident in Incident.objects.filter(problem=problem, state__in=OPEN_INCIDENT_STATES).order_by("id"):
            # The problem manager's authority covers the incidents of the problem: where their
            # role may not resolve one (another group's), the product does it for them.
            by = actor if can_transition_incident(actor, incident, "resolve") else system
            incident_services.run_transition(incident, "resolve", actor=by, payload=body)
            resolved.append(incident.pk)
        extra["resolve_linked"] = True
        extra["resolved_incidents"] = resolved
    return [
        notify.Occurrence("problem.resolved", actor, extra={"resolved_incidents": extra.get("resolved_incidents", [])})
    ]


def _close(problem: Problem, actor, payload: dict, extra: dict) -> list[notify.Occurrence]:
    """Terminal: the permanent fix is in, so the known error article is retired."""
    articles.retire(problem, actor)
    return [notify.Occurrence("problem.closed", actor)]


def _cancel(problem: Problem, actor, payload: dict, extra: dict) -> list[notify.Occurrence]:
    """Retire the article; a duplicate hands its incidents and major incidents to the survivor."""
    articles.retire(problem, actor)
    if problem.duplicate_of_id:
        links.move_all(problem, problem.duplicate_of, actor)
    return []


_TRANSITION_EFFECTS = {
    ProblemTransition.INVESTIGATE: _investigate,
    ProblemTransition.MARK_KNOWN_ERROR: _mark_known_error,
    ProblemTransition.RESOLVE: _resolve,
    ProblemTransition.CLOSE: _close,
    ProblemTransition.CANCEL: _cancel,
}
