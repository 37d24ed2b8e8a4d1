"""Major incident use cases of the record: propose (or declare at once), the transitions, edits.

Every function runs in one transaction: lock the record, check the client's version, ask
`incidents.major.policy`, validate (one ValidationError naming every bad field), change, save
with a version bump, write the timeline, queue notifications (delivered after commit). Nothing
is written on any refusal. Errors: ValidationError (400), PermissionDenied (403),
InvalidTransition / Conflict (409), StaleRecord (412).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from incidents import services as incident_services
from incidents.choices import OPEN_STATES, TERMINAL_STATES, ResolutionCode
from incidents.major import common, events, impact, links, notify, policy, review
from incidents.major.choices import HOLDING_STATES, LIVE_STATES
from incidents.major.choices import MajorIncidentState as S
from incidents.major.models import (
    MajorIncident,
    MajorIncidentSettings,
    PostIncidentReview,
    Responder,
    StakeholderUpdate,
)
from incidents.models import Incident
from incidents.response import plans, worktasks
from itsm import events as domain_events
from itsm.exceptions import Conflict, InvalidTransition
from itsm.models import Service
from itsm.numbering import next_number

User = get_user_model()

ROLE_FIELDS = ("manager", "comms_lead", "tech_lead")
TIME_FIELDS = ("impact_started_at", "detected_at", "mitigated_at")
# Fields PATCH (update_major_incident) changes.
EDITABLE_FIELDS = (
    "title",
    *ROLE_FIELDS,
    "bridge_url",
    "chat_channel",
    "affected_services",
    "impact_summary",
    "customers_affected",
    *TIME_FIELDS,
    "update_cadence_minutes",
    "stakeholders",
)
# Fields propose() takes besides the incident, the reason and `declare`.
CREATE_FIELDS = tuple(f for f in EDITABLE_FIELDS if f != "mitigated_at")
# What each transition takes in its body: {field: required}. `resolve` needs the resolution
# code and notes only with `resolve_linked` (checked in `_validate_payload`).
TRANSITION_FIELDS: dict[str, dict[str, bool]] = {
    "declare": {"manager": False, "comms_lead": False, "tech_lead": False, "bridge_url": False, "chat_channel": False},
    "reject": {"reason": True},
    "resolve": {"resolve_linked": False, "resolution_code": False, "resolution_notes": False},
    "start_review": {},
    "close": {},
}
TRANSITION_NAMES = list(TRANSITION_FIELDS)
CADENCE_RANGE = (1, 1440)
CLOCK_SKEW = timedelta(minutes=1)  # a client's clock slightly ahead is not "in the future"
# Milestones that must not be later than one another: (earlier, later).
ORDER = (
    ("impact_started_at", "detected_at"),
    ("impact_started_at", "declared_at"),
    ("detected_at", "declared_at"),
    ("impact_started_at", "mitigated_at"),
    ("mitigated_at", "resolved_at"),
)
FROZEN_STATES = (S.CLOSED, S.REJECTED)


# --- helpers ------------------------------------------------------------------------------------
def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _pk(value) -> Any:
    return value.pk if hasattr(value, "pk") else value


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _people(values: list) -> dict[int, Any]:
    """Active users among `values` (instances or ids), by id, in one query."""
    ids = {_pk(v) for v in values if v is not None}
    ids = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    return {u.pk: u for u in User.objects.filter(pk__in=ids, is_active=True)} if ids else {}


def _clean(mi: MajorIncident, changes: dict) -> dict[str, Any]:
    """Validated values of `changes` (users and services as instances); one ValidationError
    naming every bad field."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    wanted = [changes[f] for f in ROLE_FIELDS if f in changes]
    if "stakeholders" in changes:
        if isinstance(changes["stakeholders"], list | tuple):
            wanted += list(changes["stakeholders"])
        else:
            errors["stakeholders"] = ["A list of user ids."]
    people = _people(wanted)
    now = timezone.now()

    for name, value in changes.items():
        if name == "title":
            if not isinstance(value, str) or not value.strip():
                errors[name] = ["A title is required."]
            elif len(value) > 255:
                errors[name] = ["At most 255 characters."]
            else:
                out[name] = value.strip()
        elif name in ROLE_FIELDS:
            if value is None:
                out[name] = None
            elif _pk(value) in people:
                out[name] = people[_pk(value)]
            else:
                errors[name] = [f"{_pk(value)!r} is not an active user."]
        elif name == "stakeholders" and name not in errors:
            unknown = [_pk(v) for v in value if _pk(v) not in people]
            if unknown:
                errors[name] = [f"Not active users: {', '.join(str(u) for u in unknown)}."]
            else:
                out[name] = sorted({people[_pk(v)].pk: people[_pk(v)] for v in value}.values(), key=lambda u: u.pk)
        elif name == "bridge_url":
            value = value or ""
            if not isinstance(value, str) or len(value) > 500:
                errors[name] = ["A URL of at most 500 characters."]
            elif value:
                try:
                    URLValidator(schemes=["http", "https"])(value)
                except ValidationError:
                    errors[name] = ["Enter a valid http(s) URL."]
            if name not in errors:
                out[name] = value
        elif name in ("chat_channel", "impact_summary"):
            value = value or ""
            limit = 200 if name == "chat_channel" else 100_000
            if not isinstance(value, str) or len(value) > limit:
                errors[name] = [f"Text of at most {limit} characters."]
            else:
                out[name] = value
        elif name == "affected_services":
            out_services, unknown = _services(value)
            if unknown:
                errors[name] = [f"Unknown service(s): {', '.join(unknown)}."]
            else:
                out[name] = out_services
        elif name == "customers_affected":
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                errors[name] = ["A whole number from 0, or null."]
            else:
                out[name] = value
        elif name in TIME_FIELDS:
            if value is not None and not (isinstance(value, datetime) and timezone.is_aware(value)):
                errors[name] = ["A date and time with a timezone, or null."]
            elif value is not None and value > now + CLOCK_SKEW:
                errors[name] = ["Must not be in the future."]
            else:
                out[name] = value
        elif name == "update_cadence_minutes":
            low, high = CADENCE_RANGE
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                errors[name] = [f"Minutes from {low} to {high}."]
            else:
                out[name] = value
        else:
            errors[name] = ["Unknown field."]

    # Milestones in order, checked on the values the record will have; only fields being
    # changed are blamed (an old inconsistency does not block an unrelated edit).
    for earlier, later in ORDER:
        first, second = out.get(earlier, getattr(mi, earlier)), out.get(later, getattr(mi, later))
        if earlier in errors or later in errors or first is None or second is None or first <= second:
            continue
        if earlier in changes:
            errors[earlier] = [f"Must not be after {later} ({_iso(second)})."]
        if later in changes:
            errors[later] = [f"Must not be before {earlier} ({_iso(first)})."]
    if errors:
        raise ValidationError(errors)
    return out


def _services(values) -> tuple[list[Service], list[str]]:
    """Services named by slug (or given as instances); the unknown slugs."""
    if not isinstance(values, list | tuple):
        return [], ["(not a list)"]
    slugs = [v.slug if isinstance(v, Service) else v for v in values]
    bad = [repr(s) for s in slugs if not isinstance(s, str)]
    if bad:
        return [], bad
    found = {s.slug: s for s in Service.objects.filter(slug__in=set(slugs))}
    unknown = [s for s in slugs if s not in found]
    return [found[s] for s in dict.fromkeys(slugs) if s in found], unknown


def _display(name: str, value) -> Any:
    """A field's value as the timeline records it: ids for people, slugs for services, ISO times."""
    if name == "affected_services":
        return [s.slug for s in value]
    if name == "stakeholders":
        return [u.pk for u in value]
    return _iso(_pk(value))


def _current(mi: MajorIncident, name: str) -> Any:
    if name == "affected_services":
        return sorted(mi.affected_services.all(), key=lambda s: s.slug)
    if name == "stakeholders":
        return sorted(mi.stakeholders.all(), key=lambda u: u.pk)
    if name in ROLE_FIELDS:
        return getattr(mi, f"{name}_id")
    return getattr(mi, name)


def _apply(mi: MajorIncident, actor, values: dict[str, Any]) -> list[str]:
    """Set `values` on `mi` (M2Ms saved at once), write role_changed / field_changed; the changed names.

    The record itself is saved by the caller.
    """
    changed = []
    for name, value in values.items():
        old = _current(mi, name)
        if name in ("affected_services", "stakeholders"):
            new = sorted(value, key=(lambda s: s.slug) if name == "affected_services" else (lambda u: u.pk))
            if [_pk(o) for o in old] == [_pk(n) for n in new]:
                continue
            getattr(mi, name).set(new)
            events.field_changed(mi, actor, name, _display(name, old), _display(name, new))
        else:
            if old == (_pk(value) if name in ROLE_FIELDS else value):
                continue
            setattr(mi, name, value)
            if name in ROLE_FIELDS:
                events.role_changed(mi, actor, name, old, _pk(value))
            else:
                events.field_changed(mi, actor, name, _display(name, old), _display(name, value))
        changed.append(name)
    return changed


def _next_update_base(mi: MajorIncident) -> datetime | None:
    last = StakeholderUpdate.objects.filter(major_incident=mi).order_by("-posted_at", "-id").first()
    return last.posted_at if last is not None else mi.declared_at


def live_major_incident_of(incident: Incident) -> MajorIncident | None:
    """The major incident that holds `incident`: it is the primary of a non-rejected one, or
    linked to a proposed or active one (a resolved one lets it go)."""
    holding = MajorIncident.objects.filter(incident=incident, state__in=HOLDING_STATES).order_by("-id").first()
    if holding is not None:
        return holding
    if incident.major_incident_id is not None:
        return MajorIncident.objects.filter(pk=incident.major_incident_id, state__in=LIVE_STATES).first()
    return None


def available_transitions(mi: MajorIncident, user) -> list[str]:
    """Names of the transitions `user` may run on `mi` from its current state (conditions aside)."""
    return [
        name
        for name in TRANSITION_NAMES
        if can_proceed(getattr(mi, name), check_conditions=False) and _decision(user, mi, name)
    ]


def transition_requirements(name: str) -> dict[str, bool]:
    """The body fields of a transition: {field: required}."""
    return dict(TRANSITION_FIELDS[name])


def _decision(user, mi: MajorIncident, name: str) -> policy.Decision:
    return policy.can_declare(user) if name in ("declare", "reject") else policy.can_transition(user, mi, name)


# --- propose ------------------------------------------------------------------------------------
@transaction.atomic
def propose(*, actor, incident: Incident | int, reason: str, declare: bool = False, **fields) -> MajorIncident:
    """Propose a major incident for `incident` (Major Incident Managers may declare it at once).

    The primary incident points at the new record (`Incident.major_incident`, with a `linked`
    event on its timeline). Title, cadence and affected services default from the incident.
    """
    common.require(policy.can_propose(actor))
    if declare:
        common.require(policy.can_declare(actor))
    incident = Incident.objects.select_for_update().get(pk=_pk(incident))
    unknown = set(fields) - set(CREATE_FIELDS)
    errors = {name: ["Unknown field."] for name in sorted(unknown)}
    if _blank(reason):
        errors["reason"] = ["Say why this is a major incident."]
    elif not isinstance(reason, str) or len(reason) > 10_000:
        errors["reason"] = ["Text of at most 10000 characters."]
    draft = MajorIncident(incident=incident)
    try:
        values = _clean(draft, {k: v for k, v in fields.items() if k not in unknown})
    except ValidationError as exc:
        errors.update(exc.message_dict)
        values = {}
    if errors:
        raise ValidationError(errors)
    holder = live_major_incident_of(incident)
    if holder is not None:
        how = "is the primary incident of" if holder.incident_id == incident.pk else "is linked to"
        message = f"{incident.number} already {how} major incident {holder.number}."
        raise Conflict(message, errors={"incident": [message]})
    if incident.state in TERMINAL_STATES:
        message = f"{incident.number} is {incident.state}; a major incident needs an incident that is not over."
        raise Conflict(message, errors={"incident": [message]})

    settings = MajorIncidentSettings.current()
    mi = MajorIncident(
        number=next_number("major_incident"),
        incident=incident,
        title=values.pop("title", None) or incident.title[:255],
        reason=reason.strip(),
        proposed_by=actor if getattr(actor, "pk", None) else None,
        proposed_at=timezone.now(),
        update_cadence_minutes=values.pop("update_cadence_minutes", None) or common.default_cadence(incident, settings),
    )
    services = values.pop("affected_services", None)
    stakeholders = values.pop("stakeholders", None)
    for name, value in values.items():
        setattr(mi, name, value)
    mi.save()
    mi.affected_services.set(services if services is not None else ([incident.service] if incident.service_id else []))
    if stakeholders:
        mi.stakeholders.set(stakeholders)
    links.point_primary(mi, actor, incident)
    events.created(mi, actor)
    if not declare:
        notify.emit_event(mi, "major_incident.proposed", actor, extra={"reason": mi.reason}, public=False)
        return mi
    _declare(mi, actor, {})
    return mi


# --- transitions --------------------------------------------------------------------------------
def _validate_payload(mi: MajorIncident, name: str, payload: dict) -> None:
    fields = TRANSITION_FIELDS[name]
    errors = {f: [f"Not a field of '{name}'."] for f in sorted(set(payload) - set(fields))}
    for field, required in fields.items():
        if required and _blank(payload.get(field)):
            errors[field] = ["This field is required."]
    if name == "reject" and "reason" not in errors and not isinstance(payload["reason"], str):
        errors["reason"] = ["Text."]
    if name == "resolve":
        linked = payload.get("resolve_linked", False)
        if not isinstance(linked, bool):
            errors["resolve_linked"] = ["Either true or false."]
        elif linked:
            for field in ("resolution_code", "resolution_notes"):
                if _blank(payload.get(field)):
                    errors[field] = ["Required with resolve_linked."]
        code = payload.get("resolution_code")
        if not _blank(code) and code not in ResolutionCode.values:
            errors["resolution_code"] = [f"Choose one of: {', '.join(ResolutionCode.values)}."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def refusal(mi: MajorIncident, name: str, actor) -> PermissionDenied | InvalidTransition | None:
    """Why `actor` may not run transition `name` on `mi` now (403 before 409), or None when they may."""
    decision = _decision(actor, mi, name)
    if not decision:
        return PermissionDenied(decision.reason)
    if not can_proceed(getattr(mi, name), check_conditions=False):
        return InvalidTransition(mi.number, name, mi.state, available_transitions(mi, actor))
    return None


def run_transition(
    mi: MajorIncident | int, name: str, *, actor, payload: dict | None = None, expected_version: int | None = None
) -> MajorIncident:
    """Run transition `name` (declare, reject, resolve, start_review, close) with its body fields."""
    if name not in TRANSITION_FIELDS:
        raise ValidationError({"name": [f"Unknown transition '{name}'. Known: {', '.join(TRANSITION_NAMES)}."]})
    payload = dict(payload or {})
    mi = common.lock(mi)
    common.check_version(mi, expected_version)
    if (refused := refusal(mi, name, actor)) is not None:
        raise refused
    _validate_payload(mi, name, payload)
    {
        "declare": _declare,
        "reject": _reject,
        "resolve": _resolve,
        "start_review": _start_review,
        "close": _close,
    }[name](mi, actor, payload)
    return mi


def _run(mi: MajorIncident, actor, name: str, before_save: Callable[[], None] | None = None, **extra) -> None:
    """The FSM step itself (permission re-checked by django-fsm), saved once, with its timeline event.

    `before_save` sets what the transition derives from the new state (due times, costs).
    """
    method = getattr(mi, name)
    if not has_transition_perm(method, actor):
        raise PermissionDenied(_decision(actor, mi, name).reason or f"You may not {name} {mi.number}.")
    source = mi.state
    method()
    if before_save is not None:
        before_save()
    common.save(mi)
    events.transitioned(mi, actor, name, source, mi.state, **extra)


def _declare(mi: MajorIncident, actor, payload: dict) -> None:
    """proposed -> active: the response team named (manager defaults to the actor), the cadence started."""
    changes = {k: v for k, v in payload.items() if k in TRANSITION_FIELDS["declare"]}
    if changes.get("manager") is None and mi.manager_id is None and getattr(actor, "is_active", False):
        changes["manager"] = actor
    values = _clean(mi, changes)
    _apply(mi, actor, values)

    def first_update_due() -> None:
        mi.next_update_due_at = mi.declared_at + timedelta(minutes=mi.update_cadence_minutes)

    _run(mi, actor, "declare", before_save=first_update_due)
    plans.instantiate(mi, actor)  # the matching response plan: version, cadence, draft, tasks
    named = sorted({f"user:{uid}" for uid in (mi.manager_id, mi.comms_lead_id, mi.tech_lead_id) if uid})
    notify.emit_event(mi, "major_incident.declared", actor, recipients=named or None)


def _reject(mi: MajorIncident, actor, payload: dict) -> None:
    """proposed -> rejected with a reason; the incidents go back to being ordinary incidents."""
    mi.rejection_reason = payload["reason"].strip()
    _run(mi, actor, "reject", reason=mi.rejection_reason)
    links.release_all(mi, actor)
    proposer = [f"user:{mi.proposed_by_id}"] if mi.proposed_by_id else None
    notify.emit_event(
        mi, "major_incident.rejected", actor, extra={"reason": mi.rejection_reason}, public=False, recipients=proposer
    )


def _resolve(mi: MajorIncident, actor, payload: dict) -> None:
    """active -> resolved: costs frozen, responders released, optionally every open linked incident resolved.

    Refused (409) while a blocking task is open, naming the tasks.
    """
    if blocking := worktasks.open_blocking_tasks(mi):
        named = [f"'{t.title}' (task {t.pk})" for t in blocking]
        raise Conflict(
            f"{mi.number} cannot resolve while blocking tasks are open: {', '.join(named)}.",
            errors={"tasks": named},
        )
    resolve_linked = bool(payload.get("resolve_linked"))
    resolved_ids: list[int] = []
    if resolve_linked:
        body = {"resolution_code": payload["resolution_code"], "resolution_notes": payload["resolution_notes"]}
        open_incidents = (
            Incident.objects.filter(state__in=OPEN_STATES, major_incident=mi)
            | Incident.objects.filter(state__in=OPEN_STATES, pk=mi.incident_id)
        ).order_by("id")
        for incident in open_incidents:
            incident_services.run_transition(incident, "resolve", actor=actor, payload=body)
            resolved_ids.append(incident.pk)
    extra = {"resolve_linked": True, "resolved_incidents": resolved_ids} if resolve_linked else {}

    def freeze_costs() -> None:
        # Responders still engaged count until the resolution, exactly as they are released below.
        frozen = impact.business_impact(mi, now=mi.resolved_at)
        mi.estimated_cost, mi.response_effort_cost = frozen.estimated_cost, frozen.response_effort_cost

    _run(mi, actor, "resolve", before_save=freeze_costs, **extra)
    Responder.objects.filter(major_incident=mi, released_at__isnull=True).update(
        released_at=mi.resolved_at, next_page_at=None
    )
    notify.emit_event(
        mi,
        "major_incident.resolved",
        actor,
        extra={"estimated_cost": str(mi.estimated_cost), "resolved_incidents": resolved_ids},
    )


def _start_review(mi: MajorIncident, actor, payload: dict) -> None:
    """resolved -> in_review: the review opened with the timeline pre-filled."""
    _run(mi, actor, "start_review")
    review.prefill_review(mi)


def _close(mi: MajorIncident, actor, payload: dict) -> None:
    """in_review -> closed once the review is complete; hands the record to problem management."""
    review = PostIncidentReview.objects.filter(major_incident=mi).first()
    missing = review.missing() if review is not None else [f"{f} is empty" for f in PostIncidentReview.REQUIRED_FIELDS]
    if missing:
        raise Conflict(
            f"{mi.number} cannot close until its review is complete: {'; '.join(missing)}.",
            errors={"review": missing},
        )
    _run(mi, actor, "close")
    services = sorted(mi.affected_services.values_list("slug", flat=True))
    incident_ids = sorted(
        set(Incident.objects.filter(major_incident=mi).values_list("id", flat=True)) | {mi.incident_id}
    )
    domain_events.publish(
        "major_incident.closed",
        {
            "id": mi.pk,
            "number": mi.number,
            "title": mi.title,
            "summary": review.summary,
            "root_cause": review.root_cause,
            "lessons_learned": review.lessons_learned,
            "affected_services": services,
            "incident": mi.incident_id,
            "incidents": incident_ids,
            "closed_at": _iso(mi.closed_at),
        },
    )
    notify.emit_event(
        mi,
        "major_incident.closed",
        actor,
        extra={"root_cause": review.root_cause, "lessons_learned": review.lessons_learned},
    )


# --- edits --------------------------------------------------------------------------------------
@transaction.atomic
def update_major_incident(
    mi: MajorIncident | int, *, actor, changes: dict, expected_version: int | None = None
) -> MajorIncident:
    """Change the record's fields (never its state): roles, bridge, services, impact, cadence, stakeholders.

    A new cadence moves the next update due time to the last update (or the declaration) plus
    the new cadence while the record is active.
    """
    mi = common.lock(mi)
    common.check_version(mi, expected_version)
    common.require(policy.can_run(actor, mi))
    if mi.state in FROZEN_STATES:
        raise InvalidTransition(
            mi.number, "update", mi.state, [], reason=f"{mi.number} is {mi.state}; it can no longer be changed."
        )
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    values = _clean(mi, changes)
    changed = _apply(mi, actor, values)
    if not changed:
        return mi
    if "update_cadence_minutes" in changed and mi.state == S.ACTIVE:
        base = _next_update_base(mi)
        if base is not None:
            old = mi.next_update_due_at
            mi.next_update_due_at = base + timedelta(minutes=mi.update_cadence_minutes)
            if old != mi.next_update_due_at:
                events.field_changed(mi, actor, "next_update_due_at", _iso(old), _iso(mi.next_update_due_at))
    common.save(mi)
    return mi
