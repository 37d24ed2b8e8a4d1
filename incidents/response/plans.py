"""Response plans: publish immutable versions, find the plan of an incident, instantiate it on declaration.

A plan's `PlanTask` rows and communication plan are the editable draft; `publish_version`
snapshots them into a `ResponsePlanVersion` (the console and the API both call it on save). A
major incident records the version it was declared under and keeps it: editing the plan later
publishes a new version and changes nothing on running major incidents.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction

from incidents.major import common, events
from incidents.major.models import MajorIncident, MajorIncidentEvent
from incidents.models import Incident
from incidents.response.choices import TaskRole, TaskSource
from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion
from itsm.models import AssignmentGroup

# Placeholders an update template may use; anything else in braces is kept as written.
PLACEHOLDER = re.compile(r"\{(title|number|services|priority|incident)\}")
ROLE_OWNERS = {TaskRole.MANAGER: "manager", TaskRole.COMMS_LEAD: "comms_lead", TaskRole.TECH_LEAD: "tech_lead"}


# --- versions -----------------------------------------------------------------------------------
def snapshot(plan: ResponsePlan) -> dict[str, Any]:
    """The plan's current checklist and communication plan as a version stores it."""
    tasks = [
        {
            "title": t.title,
            "description": t.description,
            "assignment_group": t.assignment_group_id,
            "role": t.role,
            "due_offset_minutes": t.due_offset_minutes,
            "blocking": t.blocking,
        }
        for t in plan.tasks.order_by("position", "id")
    ]
    return {
        "name": plan.name,
        "tasks": tasks,
        "audiences": list(plan.audiences or []),
        "update_cadence_minutes": plan.update_cadence_minutes,
        "update_templates": list(plan.update_templates or []),
    }


def latest_version(plan: ResponsePlan) -> ResponsePlanVersion | None:
    """The plan's newest published version (None before the first)."""
    return ResponsePlanVersion.objects.filter(plan=plan).order_by("-number").first()


@transaction.atomic
def publish_version(plan: ResponsePlan, actor=None) -> ResponsePlanVersion:
    """Snapshot `plan` as version `current_version + 1`, only when the content changed.

    Unchanged content returns the latest version as it is (saving a plan twice publishes once).
    The plan row is locked so two saves at once cannot take the same number.
    """
    plan = ResponsePlan.objects.select_for_update().get(pk=plan.pk)
    content = snapshot(plan)
    latest = latest_version(plan)
    if latest is not None and latest.content == content:
        return latest
    number = max(plan.current_version, latest.number if latest else 0) + 1
    version = ResponsePlanVersion.objects.create(
        plan=plan, number=number, content=content, created_by=actor if getattr(actor, "pk", None) else None
    )
    ResponsePlan.objects.filter(pk=plan.pk).update(current_version=number)
    plan.current_version = number
    return version


# --- matching -----------------------------------------------------------------------------------
def _category_chain(incident: Incident) -> set[int]:
    """The incident's category and its ancestors (a plan for a parent category covers its children)."""
    ids: set[int] = set()
    category = incident.category if incident.category_id else None
    while category is not None and category.pk not in ids:
        ids.add(category.pk)
        category = category.parent if category.parent_id else None
    return ids


def matching_plan(incident: Incident) -> ResponsePlan | None:
    """The first active plan (by position) whose services, categories and priorities all match.

    An empty criterion matches anything. Two queries for the plans and their criteria.
    """
    plans = ResponsePlan.objects.filter(active=True).order_by("position", "id")
    plans = plans.prefetch_related("services", "categories")
    categories = _category_chain(incident)
    for plan in plans:
        service_ids = {s.pk for s in plan.services.all()}
        if service_ids and incident.service_id not in service_ids:
            continue
        category_ids = {c.pk for c in plan.categories.all()}
        if category_ids and not (category_ids & categories):
            continue
        if plan.priorities and incident.priority not in plan.priorities:
            continue
        return plan
    return None


# --- instantiation ------------------------------------------------------------------------------
def render_template(body: str, mi: MajorIncident) -> str:
    """Fill the known placeholders ({title}, {number}, {services}, {priority}, {incident}); other
    braces stay as written (no str.format: a template can never reach attributes)."""
    values = {
        "title": mi.title,
        "number": mi.number,
        "services": ", ".join(sorted(mi.affected_services.values_list("name", flat=True))) or "-",
        "priority": f"P{mi.incident.priority}",
        "incident": mi.incident.number,
    }
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], body or "")


def _cadence_set_explicitly(mi: MajorIncident) -> bool:
    """Did someone choose the cadence (not the practice default propose() put there)?"""
    if mi.update_cadence_minutes != common.default_cadence(mi.incident):
        return True
    return MajorIncidentEvent.objects.filter(
        major_incident=mi, type="field_changed", data__field="update_cadence_minutes"
    ).exists()


def instantiate(mi: MajorIncident, actor) -> ResponsePlanVersion | None:
    """Apply the plan matching `mi`'s primary incident to the just declared `mi` (inside `_declare`).

    Records the version (publishing a first one if the plan has none), takes the plan's cadence
    unless the manager chose one, pre-fills the update draft from the first template, and
    creates one task per plan task (owner: the group, or the person holding the named role; due
    at declaration + offset). The timeline notes the plan. Returns the version, or None.
    """
    plan = matching_plan(mi.incident)
    if plan is None:
        return None
    from incidents.response import worktasks  # the tasks use cases; imported late (they import lifecycle)

    version = latest_version(plan) or publish_version(plan, actor)
    content = version.content
    fields = ["response_plan_version"]
    mi.response_plan_version = version
    events.field_changed(mi, actor, "response_plan", None, f"{content.get('name', plan.name)} v{version.number}")

    cadence = content.get("update_cadence_minutes")
    if cadence and cadence != mi.update_cadence_minutes and not _cadence_set_explicitly(mi):
        old_cadence, old_due = mi.update_cadence_minutes, mi.next_update_due_at
        mi.update_cadence_minutes = cadence
        mi.next_update_due_at = mi.declared_at + timedelta(minutes=cadence)
        events.field_changed(mi, actor, "update_cadence_minutes", old_cadence, cadence)
        events.field_changed(
            mi, actor, "next_update_due_at", old_due and old_due.isoformat(), mi.next_update_due_at.isoformat()
        )
        fields += ["update_cadence_minutes", "next_update_due_at"]

    templates = content.get("update_templates") or []
    if templates and not (mi.update_draft or "").strip():
        first = templates[0] if isinstance(templates[0], dict) else {"body": str(templates[0])}
        mi.update_draft = render_template(str(first.get("body") or ""), mi)
        fields.append("update_draft")
    common.save(mi, update_fields=fields)

    tasks = content.get("tasks") or []
    groups = AssignmentGroup.objects.in_bulk({t["assignment_group"] for t in tasks if t.get("assignment_group")})
    for position, task in enumerate(tasks):
        role = task.get("role") or ""
        owner_field = ROLE_OWNERS.get(role)
        worktasks.create_task(
            actor=None,
            record=mi,
            title=task["title"],
            description=task.get("description") or "",
            assignment_group=groups.get(task.get("assignment_group")),
            assignee=getattr(mi, owner_field) if owner_field else None,
            due_at=mi.declared_at + timedelta(minutes=task.get("due_offset_minutes") or 0),
            blocking=bool(task.get("blocking")),
            role=role,
            source=TaskSource.PLAN,
            plan_version=version,
            position=position,
            allow_past_due=True,
        )
    return version


# --- editing (the API; the console saves through its forms, then publishes) ------------------------
PLAN_FIELDS = (
    "name",
    "description",
    "position",
    "active",
    "priorities",
    "audiences",
    "update_cadence_minutes",
    "update_templates",
)
TASK_FIELDS = ("title", "description", "assignment_group", "role", "due_offset_minutes", "blocking")


@transaction.atomic
def save_plan(
    *,
    actor,
    plan: ResponsePlan | None = None,
    values: dict[str, Any],
    services=None,
    categories=None,
    tasks: list[dict[str, Any]] | None = None,
) -> ResponsePlan:
    """Create or change a plan (values validated by the caller), replace its checklist when `tasks`
    is given, and publish a version when the content changed."""
    plan = plan or ResponsePlan()
    for name in PLAN_FIELDS:
        if name in values:
            setattr(plan, name, values[name])
    plan.save()
    if services is not None:
        plan.services.set(services)
    if categories is not None:
        plan.categories.set(categories)
    if tasks is not None:
        plan.tasks.all().delete()
        PlanTask.objects.bulk_create(
            PlanTask(plan=plan, position=n, **{k: v for k, v in task.items() if k in TASK_FIELDS})
            for n, task in enumerate(tasks)
        )
    publish_version(plan, actor)
    plan.refresh_from_db()
    return plan
