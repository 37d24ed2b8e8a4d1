"""Demo response plan and trigger rule (the rule inactive, as every rule starts), made once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.major.models import MajorIncident
from incidents.response import plans, worktasks
from incidents.response.models import ResponsePlan, Task, TriggerRule

PLAN = "P1 outage"
RULE = "Any P1 on a critical service"


def seed(ctx) -> None:
    """A plan for P1 major incidents (checklist + communication plan, version 1 published) and an
    inactive rule proposing a major incident for any P1 on a critical service."""
    if not ResponsePlan.objects.filter(name=PLAN).exists():
        desk = ctx.groups.get("Service Desk")
        plans.save_plan(
            actor=ctx.users.get("admin"),
            values={
                "description": "Demo: what every P1 major incident starts with.",
                "position": 100,
                "priorities": [1],
                "audiences": ["internal", "external"],
                "update_cadence_minutes": 30,
                "update_templates": [
                    {
                        "name": "First internal update",
                        "audience": "internal",
                        "status": "investigating",
                        "body": "{title}: we are investigating the impact on {services}. Next update in 30 minutes.",
                    }
                ],
                "name": PLAN,
            },
            tasks=[
                {"title": "Open the bridge and the chat channel", "role": "manager", "due_offset_minutes": 5},
                {"title": "Post the first status page update", "role": "comms_lead", "due_offset_minutes": 15},
                {
                    "title": "Tell the service desk what to answer callers",
                    "assignment_group": desk,
                    "due_offset_minutes": 15,
                },
                {
                    "title": "Confirm the cause or a workaround",
                    "role": "tech_lead",
                    "due_offset_minutes": 60,
                    "blocking": True,
                },
            ],
        )
    TriggerRule.objects.get_or_create(
        name=RULE,
        defaults={
            "description": "Demo (inactive): turn on to propose a major incident for every P1 on a critical service.",
            "active": False,
            "position": 100,
            "action": "propose",
            "conditions": [
                {"field": "priority", "op": "eq", "value": 1},
                {"field": "service.criticality", "op": "eq", "value": "critical"},
            ],
        },
    )
    _tasks(ctx)


def _tasks(ctx) -> None:
    """Tasks on the active demo major incident (one blocking its resolve, one overdue) and on its
    primary incident, so the task lists, "My tasks" and the blocking guard have something to show."""
    mi = MajorIncident.objects.filter(state="active").order_by("id").first()
    if mi is None or Task.objects.filter(major_incident=mi).exists():
        return
    now = timezone.now()
    tech, comms = mi.tech_lead or ctx.users.get("resolver2"), mi.comms_lead or ctx.users.get("mim")
    worktasks.create_task(
        actor=None,
        record=mi,
        title="Fail the payroll database over to the standby",
        description="Blocking: the major incident cannot resolve until this is done or cancelled.",
        assignee=tech,
        due_at=now + timedelta(minutes=30),
        blocking=True,
    )
    worktasks.create_task(
        actor=None,
        record=mi,
        title="Brief the HR business partners",
        assignee=comms,
        due_at=now - timedelta(minutes=10),
        allow_past_due=True,
    )
    worktasks.create_task(
        actor=None,
        record=mi.incident,
        title="Collect payroll run ids that failed",
        assignment_group=ctx.groups.get("Applications Team"),
        due_at=now + timedelta(hours=2),
    )
