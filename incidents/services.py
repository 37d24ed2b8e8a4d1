"""Incident use cases. The admin and the API both call these; nothing else changes an incident.

Each function runs in one transaction: lock the row, check who may act (`incidents.policy`),
check the client's version (optimistic concurrency), validate, change, bump `version`, write
the timeline, update SLA clocks, and queue notifications that go out after commit.
Errors are domain errors (see `itsm.exceptions`): ValidationError (400), PermissionDenied (403),
InvalidTransition (409), StaleRecord (412).
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from incidents import events, notify, policy, sla
from incidents.choices import Channel, HoldReason, IncidentState, ResolutionCode, Visibility
from incidents.models import Comment, Incident, IncidentSettings
from incidents.response import trigger_check
from incidents.response.choices import TriggerEvent
from itsm import roles
from itsm.exceptions import InvalidTransition, StaleRecord
from itsm.models import AssignmentGroup, PriorityMatrixEntry
from itsm.numbering import next_number

User = get_user_model()

# Fields an agent or integration may set on create and change with update_incident().
EDITABLE_FIELDS = [
    "title",
    "description",
    "impact",
    "urgency",
    "service",
    "category",
    "caller",
    "caller_name",
    "caller_email",
    "assignment_group",
    "assignee",
    "tags",
    "parent",
    "caused_by_change",
    "caused_by_change_summary",
]
CREATE_ONLY_FIELDS = ["channel", "dedup_key", "opened_at", "alert_source"]
FK_FIELDS = {"service", "category", "caller", "assignment_group", "assignee", "parent"}

# What each transition needs in its body (API.md "transition bodies"); required ones are checked.
TRANSITION_FIELDS: dict[str, dict[str, bool]] = {
    "start": {"assignment_group": False, "assignee": False},
    "hold": {"hold_reason": True},
    "resume": {},
    "resolve": {"resolution_code": True, "resolution_notes": True},
    "reopen": {"reason": True},
    "close": {},
    "cancel": {"reason": True},
}
TRANSITION_NAMES = list(TRANSITION_FIELDS)


# --- helpers ------------------------------------------------------------------------------------
def _lock(incident_or_id: Incident | int) -> Incident:
    pk = incident_or_id.pk if isinstance(incident_or_id, Incident) else incident_or_id
    return Incident.objects.select_for_update().get(pk=pk)


def _check_version(incident: Incident, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != incident.version:
        raise StaleRecord(
            f"{incident.number} changed since you read it (version {incident.version}, you had {expected_version})."
        )


def _require(decision: policy.Decision) -> None:
    if not decision:
        raise PermissionDenied(decision.reason)


def _fk_value(value) -> Any:
    """Timeline representation of a field value: ids for records, plain values otherwise."""
    if hasattr(value, "pk"):
        return value.pk
    return value


def _validate(incident: Incident, changes: dict) -> None:
    """Domain rules on field values; raise one ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    group = changes.get("assignment_group", incident.assignment_group)
    assignee = changes.get("assignee", incident.assignee)
    if "title" in changes and not (changes["title"] or "").strip():
        errors["title"] = ["A title is required."]
    for name in ("impact", "urgency"):
        if name in changes and changes[name] not in (1, 2, 3):
            errors[name] = ["Must be 1 (high), 2 (medium) or 3 (low)."]
    if assignee is not None and ("assignee" in changes or "assignment_group" in changes):
        if group is None:
            errors["assignee"] = ["Set an assignment group before assigning a person."]
        elif not group.members.filter(pk=assignee.pk).exists():
            errors["assignee"] = [f"{assignee.get_username()} is not a member of {group.name}."]
    if "assignment_group" in changes and group is not None and not group.active:
        errors["assignment_group"] = [f"{group.name} is inactive."]
    if "service" in changes and changes["service"] is not None and not changes["service"].active:
        errors["service"] = [f"{changes['service'].name} is inactive."]
    if "category" in changes and changes["category"] is not None and not changes["category"].active:
        errors["category"] = [f"{changes['category']} is inactive."]
    if "parent" in changes and changes["parent"] is not None:
        parent = changes["parent"]
        if incident.pk and parent.pk == incident.pk:
            errors["parent"] = ["An incident cannot be its own parent."]
        elif parent.parent_id is not None:
            errors["parent"] = [f"{parent.number} is itself a child; link to its parent {parent.parent_id} instead."]
        elif incident.pk and incident.children.exists():
            errors["parent"] = ["An incident with children cannot become a child."]
    if "tags" in changes:
        tags = changes["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags):
            errors["tags"] = ["Tags are a list of strings of 1 to 50 characters."]
    reference = changes.get("caused_by_change", incident.caused_by_change)
    if (changes.get("caused_by_change_summary") or "").strip() and not (reference or "").strip():
        errors["caused_by_change_summary"] = ["Name the change (caused_by_change) this summary describes."]
    if errors:
        raise ValidationError(errors)


def _apply_changes(incident: Incident, changes: dict, actor) -> dict[str, tuple[Any, Any]]:
    """Set changed fields, recompute priority, write timeline events; return {field: (old, new)}."""
    changed: dict[str, tuple[Any, Any]] = {}
    old_group, old_assignee = incident.assignment_group_id, incident.assignee_id
    for field, value in changes.items():
        attname = f"{field}_id" if field in FK_FIELDS else field
        old = getattr(incident, attname)
        new = _fk_value(value)
        if old != new:
            setattr(incident, field, value)
            changed[field] = (old, new)
    if "impact" in changed or "urgency" in changed:
        priority = PriorityMatrixEntry.objects.priority_for(incident.impact, incident.urgency)
        if priority != incident.priority:
            changed["priority"] = (incident.priority, priority)
            incident.priority = priority
    for field, (old, new) in changed.items():
        if field not in ("assignment_group", "assignee"):
            events.field_changed(incident, actor, field, old, new)
    if "assignment_group" in changed or "assignee" in changed:
        if old_group is not None and ("assignment_group" in changed or old_assignee is not None):
            incident.reassignment_count += 1
        events.assigned(incident, actor, old_group, incident.assignment_group_id, old_assignee, incident.assignee_id)
    return changed


def _save(incident: Incident) -> None:
    incident.version += 1
    incident.save()


def available_transitions(incident: Incident, user) -> list[str]:
    """Names of the transitions `user` may run on `incident` from its current state."""
    names = []
    for name in TRANSITION_NAMES:
        method = getattr(incident, name)
        if can_proceed(method, check_conditions=False) and policy.can_transition(user, incident, name):
            names.append(name)
    return names


def transition_requirements(name: str) -> dict[str, bool]:
    """The body fields of a transition: {field: required}."""
    return dict(TRANSITION_FIELDS[name])


# --- use cases ----------------------------------------------------------------------------------
@transaction.atomic
def open_incident(*, actor, title: str, impact: int = 2, urgency: int = 2, **fields) -> Incident:
    """Log a new incident: number, derived priority, routing, timeline, SLA clocks, notifications.

    Routing: with no assignment group given, the service's owner group is used. The creation
    (and first assignment) notifications go into the outbox in this transaction, as every
    incident event's do, and are delivered after commit.
    """
    _require(policy.can_create(actor))
    unknown = set(fields) - set(EDITABLE_FIELDS) - set(CREATE_ONLY_FIELDS) - {"watchers"}
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    watchers = fields.pop("watchers", None) or []
    incident = Incident(channel=fields.pop("channel", Channel.API), created_by=actor if actor.pk else None)
    for name in CREATE_ONLY_FIELDS:
        if name in fields:
            setattr(incident, name, fields.pop(name))
    changes = {"title": title, "impact": impact, "urgency": urgency, **fields}
    if changes.get("assignment_group") is None and changes.get("service") is not None:
        changes["assignment_group"] = changes["service"].owner_group
    _validate(incident, changes)
    for field, value in changes.items():
        setattr(incident, field, value)
    incident.priority = PriorityMatrixEntry.objects.priority_for(incident.impact, incident.urgency)
    incident.number = next_number("incident")
    incident.save()
    events.created(incident, actor)
    if incident.assignment_group_id or incident.assignee_id:
        events.assigned(incident, actor, None, incident.assignment_group_id, None, incident.assignee_id)
    for user in watchers:
        incident.watchers.add(user)
        events.watcher_added(incident, actor, user.pk)
    sla.attach_clocks(incident, actor)
    occurrences = [notify.IncidentEvent("incident.created", incident, actor)]
    if incident.assignee_id or incident.assignment_group_id:
        occurrences.append(notify.IncidentEvent("incident.assigned", incident, actor))
    notify.incident_events(occurrences)
    trigger_check.request_check(incident, TriggerEvent.CREATED)
    return incident


@transaction.atomic
def update_incident(incident: Incident | int, *, actor, changes: dict, expected_version: int | None = None) -> Incident:
    """Change fields (never state). Priority follows impact/urgency; assignment changes are counted."""
    incident = _lock(incident)
    _check_version(incident, expected_version)
    _require(policy.can_change(actor, incident))
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    if not incident.is_open and incident.state != IncidentState.RESOLVED:
        raise InvalidTransition(
            incident.number,
            "update",
            incident.state,
            [],
            reason=f"{incident.number} is {incident.state}; closed and cancelled incidents cannot be changed.",
        )
    if "assignment_group" in changes and "assignee" not in changes and incident.assignee_id:
        group = changes["assignment_group"]
        if group is None or not group.members.filter(pk=incident.assignee_id).exists():
            changes = {**changes, "assignee": None}  # the old assignee does not follow to another team
    _validate(incident, changes)
    changed = _apply_changes(incident, changes, actor)
    if not changed:
        return incident
    _save(incident)
    if {"priority", "service", "category"} & set(changed):
        sla.policy_inputs_changed(incident, actor)
    if "priority" in changed or "service" in changed:
        event = TriggerEvent.PRIORITY_CHANGED if "priority" in changed else TriggerEvent.SERVICE_CHANGED
        trigger_check.request_check(incident, event)
    if "assignment_group" in changed or "assignee" in changed:
        notify.incident_event("incident.assigned", incident, actor)
    return incident


def assign(
    incident: Incident | int,
    *,
    actor,
    group: AssignmentGroup | None = None,
    assignee=None,
    expected_version: int | None = None,
) -> Incident:
    """Assign to a group and/or a person (a person must be a member of the group)."""
    changes: dict[str, Any] = {}
    if group is not None:
        changes["assignment_group"] = group
    if assignee is not None:
        changes["assignee"] = assignee
    return update_incident(incident, actor=actor, changes=changes, expected_version=expected_version)


@transaction.atomic
def run_transition(
    incident: Incident | int,
    name: str,
    *,
    actor,
    payload: dict | None = None,
    expected_version: int | None = None,
    automatic: bool = False,
) -> Incident:
    """Run transition `name` with its body fields (see TRANSITION_FIELDS).

    `automatic` marks a transition the product ran by itself (auto-close) in its notification.
    """
    if name not in TRANSITION_FIELDS:
        raise ValidationError({"name": [f"Unknown transition '{name}'. Known: {', '.join(TRANSITION_NAMES)}."]})
    payload = dict(payload or {})
    incident = _lock(incident)
    _check_version(incident, expected_version)
    _require(policy.can_transition(actor, incident, name))
    method = getattr(incident, name)
    if not can_proceed(method, check_conditions=False):
        raise InvalidTransition(incident.number, name, incident.state, available_transitions(incident, actor))

    unknown = set(payload) - set(TRANSITION_FIELDS[name])
    missing = [
        f
        for f, required in TRANSITION_FIELDS[name].items()
        if required and (payload.get(f) is None or (isinstance(payload[f], str) and not payload[f].strip()))
    ]
    errors = {f: ["This field is required."] for f in missing}
    errors.update({f: [f"Not a field of '{name}'."] for f in unknown})
    if name == "hold" and payload.get("hold_reason") and payload["hold_reason"] not in HoldReason.values:
        errors["hold_reason"] = [f"Choose one of: {', '.join(HoldReason.values)}."]
    if name == "resolve" and payload.get("resolution_code") and payload["resolution_code"] not in ResolutionCode.values:
        errors["resolution_code"] = [f"Choose one of: {', '.join(ResolutionCode.values)}."]
    if errors:
        raise ValidationError(errors)

    source = incident.state
    changes: dict[str, Any] = {}
    if name == "start":
        if payload.get("assignment_group") is not None:
            changes["assignment_group"] = payload["assignment_group"]
        if payload.get("assignee") is not None:
            changes["assignee"] = payload["assignee"]
        group = changes.get("assignment_group", incident.assignment_group)
        if group is None:
            raise ValidationError({"assignment_group": ["An assignment group is required to start work."]})
        if (
            "assignee" not in changes
            and incident.assignee_id is None
            and actor.pk
            and policy.acts_as_person(actor)
            and group.members.filter(pk=actor.pk).exists()
        ):
            changes["assignee"] = actor  # the acting agent takes it; an acknowledge from monitoring does not
        if "assignment_group" in changes and "assignee" not in changes and incident.assignee_id:
            if not group.members.filter(pk=incident.assignee_id).exists():
                changes["assignee"] = None
        _validate(incident, changes)
    reason = payload.get("reason")
    if name == "reopen":
        settings = IncidentSettings.current()
        if not can_proceed(method):  # the reopen window (a condition of the transition)
            raise InvalidTransition(
                incident.number,
                name,
                source,
                [n for n in available_transitions(incident, actor) if n != "reopen"],
                reason=f"{incident.number} was resolved more than {settings.reopen_window_days} days ago; "
                "the reopen window has passed. Open a new incident instead.",
            )

    assign_changed = _apply_changes(incident, changes, actor) if changes else {}
    if name == "hold":
        incident.hold_reason = payload["hold_reason"]
    elif name == "resolve":
        incident.resolution_code = payload["resolution_code"]
        incident.resolution_notes = payload["resolution_notes"]
    method()
    _save(incident)
    events.transitioned(incident, actor, name, source, incident.state)
    if reason:
        _add_comment(incident, actor, reason, Visibility.PUBLIC if name == "reopen" else Visibility.INTERNAL)
    sla.state_changed(incident, actor, name)
    extra = {"transition": name, "from": source, **({"automatic": True} if automatic else {})}
    occurrences = [notify.IncidentEvent("incident.state_changed", incident, actor, extra=extra)]
    if "assignment_group" in assign_changed or "assignee" in assign_changed:
        occurrences.append(notify.IncidentEvent("incident.assigned", incident, actor))
    notify.incident_events(occurrences)
    return incident


def start(incident, *, actor, assignment_group=None, assignee=None, expected_version=None) -> Incident:
    """new -> in_progress: first response; needs an assignment group."""
    payload = {k: v for k, v in {"assignment_group": assignment_group, "assignee": assignee}.items() if v is not None}
    return run_transition(incident, "start", actor=actor, payload=payload, expected_version=expected_version)


def hold(incident, *, actor, hold_reason: str, expected_version=None) -> Incident:
    """in_progress -> on_hold with a reason; pauses SLA clocks that pause on hold."""
    return run_transition(
        incident, "hold", actor=actor, payload={"hold_reason": hold_reason}, expected_version=expected_version
    )


def resume(incident, *, actor, expected_version=None) -> Incident:
    """on_hold -> in_progress; resumes paused clocks."""
    return run_transition(incident, "resume", actor=actor, expected_version=expected_version)


def resolve(incident, *, actor, resolution_code: str, resolution_notes: str, expected_version=None) -> Incident:
    """-> resolved with a code and notes; stops the resolution clock."""
    return run_transition(
        incident,
        "resolve",
        actor=actor,
        payload={"resolution_code": resolution_code, "resolution_notes": resolution_notes},
        expected_version=expected_version,
    )


def reopen(incident, *, actor, reason: str, expected_version=None) -> Incident:
    """resolved -> in_progress within the reopen window; the reason becomes a public comment."""
    return run_transition(
        incident, "reopen", actor=actor, payload={"reason": reason}, expected_version=expected_version
    )


def close(incident, *, actor, expected_version=None) -> Incident:
    """resolved -> closed (terminal)."""
    return run_transition(incident, "close", actor=actor, expected_version=expected_version)


def cancel(incident, *, actor, reason: str, expected_version=None) -> Incident:
    """new/in_progress/on_hold -> cancelled (terminal); cancels SLA clocks."""
    return run_transition(
        incident, "cancel", actor=actor, payload={"reason": reason}, expected_version=expected_version
    )


def _add_comment(incident: Incident, actor, body: str, visibility: str, author_email: str = "") -> Comment:
    comment = Comment.objects.create(
        incident=incident,
        author=actor if getattr(actor, "pk", None) else None,
        body=body,
        visibility=visibility,
        author_email=author_email,
    )
    events.commented(incident, actor, comment)
    return comment


@transaction.atomic
def add_comment(
    incident: Incident | int, *, actor, body: str, visibility: str = Visibility.INTERNAL, author_email: str = ""
) -> Comment:
    """A public comment (notifies the caller) or an internal work note."""
    incident = _lock(incident)
    _require(policy.can_change(actor, incident))
    errors = {}
    if not (body or "").strip():
        errors["body"] = ["A comment needs a body."]
    if visibility not in Visibility.values:
        errors["visibility"] = [f"Choose one of: {', '.join(Visibility.values)}."]
    if errors:
        raise ValidationError(errors)
    comment = _add_comment(incident, actor, body, visibility, author_email)
    _save(incident)
    notify.incident_event(
        "incident.commented",
        incident,
        actor,
        public=visibility == Visibility.PUBLIC,
        extra={"comment": {"id": comment.pk, "body": body, "visibility": visibility}},
    )
    return comment


@transaction.atomic
def add_watcher(incident: Incident | int, *, actor, user) -> Incident:
    """Add a watcher (notified of changes); adding twice does nothing."""
    incident = _lock(incident)
    _require(policy.can_change(actor, incident) if actor.pk != user.pk else policy.can_view(actor, incident))
    if not incident.watchers.filter(pk=user.pk).exists():
        incident.watchers.add(user)
        events.watcher_added(incident, actor, user.pk)
        _save(incident)
    return incident


@transaction.atomic
def remove_watcher(incident: Incident | int, *, actor, user) -> Incident:
    """Remove a watcher; removing someone who is not watching does nothing."""
    incident = _lock(incident)
    _require(policy.can_change(actor, incident) if actor.pk != user.pk else policy.can_view(actor, incident))
    if incident.watchers.filter(pk=user.pk).exists():
        incident.watchers.remove(user)
        events.watcher_removed(incident, actor, user.pk)
        _save(incident)
    return incident


@transaction.atomic
def link_children(parent: Incident | int, children: Iterable[Incident | int], *, actor) -> Incident:
    """Make `children` point at `parent` (duplicates or parts of one incident), on both timelines."""
    parent = _lock(parent)
    _require(policy.can_change(actor, parent))
    if parent.parent_id is not None:
        raise ValidationError({"parent": [f"{parent.number} is itself a child and cannot have children."]})
    for child in children:
        child = _lock(child)
        if child.parent_id == parent.pk:
            continue
        _require(policy.can_change(actor, child))
        _validate(child, {"parent": parent})
        old = child.parent_id
        child.parent = parent
        _save(child)
        if old:
            events.unlinked(child, actor, "parent", old)
        events.linked(child, actor, "parent", parent.pk)
        events.linked(parent, actor, "child", child.pk)
    _save(parent)
    return parent


@transaction.atomic
def unlink_child(child: Incident | int, *, actor) -> Incident:
    """Detach a child from its parent."""
    child = _lock(child)
    _require(policy.can_change(actor, child))
    if child.parent_id is None:
        return child
    parent = _lock(child.parent_id)
    child.parent = None
    _save(child)
    events.unlinked(child, actor, "parent", parent.pk)
    events.unlinked(parent, actor, "child", child.pk)
    _save(parent)
    return child


def auto_close_due(now=None, limit: int = 500) -> int:
    """Close resolved incidents older than the configured delay (a beat task calls this)."""
    settings = IncidentSettings.current()
    if not settings.auto_close_after_hours:
        return 0
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(hours=settings.auto_close_after_hours)
    ids = list(
        Incident.objects.filter(state=IncidentState.RESOLVED, resolved_at__lte=cutoff)
        .order_by("resolved_at")
        .values_list("id", flat=True)[:limit]
    )
    closed = 0
    system = system_user()
    for incident_id in ids:
        # The agents' close, run as the system: timeline, SLA clocks, notifications, and whatever
        # the transition gains later. Reopened or closed meanwhile: the lock shows it, skip it.
        with transaction.atomic():
            incident = _lock(incident_id)
            if incident.state != IncidentState.RESOLVED or incident.resolved_at > cutoff:
                continue
            run_transition(incident, "close", actor=system, automatic=True)
        closed += 1
    return closed


def system_user():
    """The account automatic actions are recorded under."""
    user, _ = User.objects.get_or_create(
        username=policy.SYSTEM_USERNAME, defaults={"first_name": "ITSM", "last_name": "automation", "is_active": False}
    )
    return user


@transaction.atomic
def escalate(incident: Incident | int, *, actor, reason: str) -> Incident:
    """Reassign to the current group's escalation group (an SLA action; runs as the system)."""
    incident = _lock(incident)
    group = incident.assignment_group
    if group is None or group.escalation_group_id is None or not incident.is_open:
        return incident
    target = group.escalation_group
    changes: dict[str, Any] = {"assignment_group": target}
    if incident.assignee_id and not target.members.filter(pk=incident.assignee_id).exists():
        changes["assignee"] = None
    _apply_changes(incident, changes, actor)
    _save(incident)
    _add_comment(incident, actor, f"Escalated to {target.name}: {reason}.", Visibility.INTERNAL)
    notify.incident_event("incident.assigned", incident, actor)
    return incident


@transaction.atomic
def raise_priority(incident: Incident | int, *, actor, reason: str) -> Incident:
    """Raise urgency one step (so priority rises through the matrix); an opt-in SLA action."""
    incident = _lock(incident)
    if incident.urgency <= 1 or not incident.is_open:
        return incident
    changed = _apply_changes(incident, {"urgency": incident.urgency - 1}, actor)
    _save(incident)
    _add_comment(incident, actor, f"Urgency raised: {reason}.", Visibility.INTERNAL)
    if "priority" in changed:
        sla.policy_inputs_changed(incident, actor)
        trigger_check.request_check(incident, TriggerEvent.PRIORITY_CHANGED)
    return incident


def remind_long_holds(now=None, limit: int = 500) -> int:
    """Remind about incidents on hold longer than the configured age, once per hold."""
    settings = IncidentSettings.current()
    if not settings.hold_reminder_after_hours:
        return 0
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(hours=settings.hold_reminder_after_hours)
    ids = list(
        Incident.objects.filter(state=IncidentState.ON_HOLD, on_hold_since__lte=cutoff, hold_reminded_at__isnull=True)
        .order_by("on_hold_since")
        .values_list("id", flat=True)[:limit]
    )
    system = system_user()
    sent = 0
    for incident_id in ids:
        with transaction.atomic():
            incident = _lock(incident_id)
            if incident.state != IncidentState.ON_HOLD or incident.hold_reminded_at is not None:
                continue
            incident.hold_reminded_at = now
            incident.save(update_fields=["hold_reminded_at"])  # not a change agents made: no version bump
            hours = int((now - incident.on_hold_since).total_seconds() // 3600)
            notify.incident_event(
                "incident.hold_reminder",
                incident,
                system,
                extra={"on_hold_hours": hours, "hold_reason": incident.hold_reason},
            )
            sent += 1
    return sent


@transaction.atomic
@transaction.atomic
def assign_to_me(incident: Incident | int, *, actor, expected_version: int | None = None) -> Incident:
    """Make `actor` the assignee ("Assign to me" in the console, `POST .../assign-to-me/` in the API).

    An incident with a group keeps it (the actor must be one of its members, as for any
    assignee). An incident without one takes the actor's group when they are in exactly one;
    with several (or none) the actor is asked to choose a group first, since guessing would route
    the work to the wrong team. The change itself is `assign`, so it is checked, recorded and
    notified like any other assignment.
    """
    locked = _lock(incident)
    _check_version(locked, expected_version)
    _require(policy.can_change(actor, locked))
    group = None
    if locked.assignment_group_id is None:
        my_groups = sorted(roles.group_ids(actor))
        if len(my_groups) != 1:
            raise ValidationError(
                {"assignment_group": ["It has no group; assign it to a group first (you are in several)."]}
                if my_groups
                else {"assignee": ["You are not a member of any assignment group."]}
            )
        group = AssignmentGroup.objects.get(pk=my_groups[0])
    return assign(locked, actor=actor, group=group, assignee=actor, expected_version=expected_version)
