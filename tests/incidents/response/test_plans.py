"""Response plans: matching (ordered, first match wins), versions, instantiation on declaration."""

from datetime import timedelta

import pytest

from incidents.major import lifecycle
from incidents.major.models import MajorIncidentEvent
from incidents.response import plans
from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion, Task
from itsm import roles
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(make_user, group):
    return make_user(roles.RESOLVER, groups=[group], first_name="Tess", last_name="Tech")


def make_plan(name, *, services=(), categories=(), tasks=(), **fields):
    plan = ResponsePlan.objects.create(name=name, **fields)
    plan.services.set(services)
    plan.categories.set(categories)
    for n, task in enumerate(tasks):
        PlanTask.objects.create(plan=plan, position=n, **task)
    return plan


# --- matching -----------------------------------------------------------------------------------
def test_first_matching_plan_by_position_wins(service):
    other = ServiceFactory()
    network = CategoryFactory(name="Network")
    vpn = CategoryFactory(name="VPN", parent=network)
    make_plan("other service", services=[other], position=1)
    make_plan("inactive", position=2, active=False)
    by_category = make_plan("network", categories=[network], position=3)
    make_plan("P1 anywhere", priorities=[1], position=4)
    catch_all = make_plan("anything", position=5)

    assert plans.matching_plan(IncidentFactory(service=service, category=vpn)) == by_category  # parent covers child
    assert plans.matching_plan(IncidentFactory(service=service, impact=1, urgency=1)).name == "P1 anywhere"
    assert plans.matching_plan(IncidentFactory(service=service)) == catch_all
    assert plans.matching_plan(IncidentFactory(service=other)).name == "other service"


def test_no_plan_matches():
    make_plan("P1 only", priorities=[1])
    assert plans.matching_plan(IncidentFactory(impact=3, urgency=3)) is None


# --- versions -----------------------------------------------------------------------------------
def test_publish_version_snapshots_only_when_the_content_changed(administrator, group):
    plan = make_plan(
        "p",
        tasks=[{"title": "Open the bridge", "due_offset_minutes": 5, "assignment_group": group}],
        audiences=["internal"],
    )
    first = plans.publish_version(plan, administrator)
    assert first.number == 1 and first.created_by == administrator
    assert first.content["tasks"][0] == {
        "title": "Open the bridge",
        "description": "",
        "assignment_group": group.pk,
        "role": "",
        "due_offset_minutes": 5,
        "blocking": False,
    }
    assert first.content["audiences"] == ["internal"]
    assert plans.publish_version(plan, administrator) == first  # unchanged: no new version

    PlanTask.objects.create(plan=plan, position=1, title="Tell the board", due_offset_minutes=60)
    second = plans.publish_version(plan, administrator)
    plan.refresh_from_db()
    assert second.number == 2 and plan.current_version == 2
    assert [t["title"] for t in second.content["tasks"]] == ["Open the bridge", "Tell the board"]
    first.refresh_from_db()
    assert len(first.content["tasks"]) == 1  # the old version is untouched


# --- instantiation ------------------------------------------------------------------------------
def test_declaring_instantiates_the_plan_with_owners_due_times_cadence_and_draft(mim, lead, service, group):
    comms_group = AssignmentGroupFactory(name="Comms")
    make_plan(
        "Major outage",
        services=[service],
        update_cadence_minutes=15,
        update_templates=[
            {"name": "First", "audience": "internal", "status": "investigating", "body": "{title} on {services}: {x}"}
        ],
        tasks=[
            {"title": "Open the bridge", "role": "manager", "due_offset_minutes": 0, "blocking": True},
            {"title": "Draft the notice", "assignment_group": comms_group, "due_offset_minutes": 15},
            {"title": "Find the cause", "role": "tech_lead", "assignment_group": group, "due_offset_minutes": 30},
        ],
    )
    incident = IncidentFactory(service=service, impact=1, urgency=1, title="Payments down")
    mi = lifecycle.propose(actor=mim, incident=incident, reason="Everyone is down.")
    mi = lifecycle.run_transition(mi, "declare", actor=mim, payload={"tech_lead": lead.pk})
    mi.refresh_from_db()

    version = ResponsePlanVersion.objects.get()
    assert mi.response_plan_version == version and version.number == 1  # published on first use
    assert mi.update_cadence_minutes == 15
    assert mi.next_update_due_at == mi.declared_at + timedelta(minutes=15)
    assert mi.update_draft == f"Payments down on {service.name}: {{x}}"  # unknown placeholders stay
    tasks = list(Task.objects.filter(major_incident=mi).order_by("position"))
    assert [(t.title, t.assignee, t.assignment_group, t.role, t.blocking) for t in tasks] == [
        ("Open the bridge", mim, None, "manager", True),
        ("Draft the notice", None, comms_group, "", False),
        ("Find the cause", lead, group, "tech_lead", False),
    ]
    assert [t.due_at - mi.declared_at for t in tasks] == [timedelta(0), timedelta(minutes=15), timedelta(minutes=30)]
    assert all(t.source == "plan" and t.plan_version == version for t in tasks)
    noted = MajorIncidentEvent.objects.get(major_incident=mi, type="field_changed", data__field="response_plan")
    assert noted.data["new"] == "Major outage v1"


def test_an_explicit_cadence_is_kept(mim, service):
    make_plan("p", update_cadence_minutes=15)
    incident = IncidentFactory(service=service, impact=1, urgency=1)
    mi = lifecycle.propose(actor=mim, incident=incident, reason="Big.", update_cadence_minutes=45)
    mi = lifecycle.run_transition(mi, "declare", actor=mim)
    mi.refresh_from_db()
    assert mi.response_plan_version is not None and mi.update_cadence_minutes == 45


def test_declaring_without_a_matching_plan_changes_nothing(mim, service):
    make_plan("P5 only", priorities=[5])
    mi = lifecycle.propose(actor=mim, incident=IncidentFactory(service=service), reason="Big.", declare=True)
    mi.refresh_from_db()
    assert mi.response_plan_version is None and mi.update_draft == ""
    assert not Task.objects.exists()


def test_a_running_major_incident_keeps_its_version(mim, administrator, service):
    plan = make_plan("p", tasks=[{"title": "Step one", "due_offset_minutes": 10}])
    plans.publish_version(plan, administrator)
    first = lifecycle.propose(
        actor=mim, incident=IncidentFactory(service=service, impact=1, urgency=1), reason="x", declare=True
    )

    plans.save_plan(actor=administrator, plan=plan, values={}, tasks=[{"title": "Step two", "due_offset_minutes": 5}])
    second = lifecycle.propose(
        actor=mim, incident=IncidentFactory(service=service, impact=1, urgency=1), reason="y", declare=True
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.response_plan_version.number == 1 and second.response_plan_version.number == 2
    assert list(Task.objects.filter(major_incident=first).values_list("title", flat=True)) == ["Step one"]
    assert list(Task.objects.filter(major_incident=second).values_list("title", flat=True)) == ["Step two"]
    assert first.response_plan_version.content["tasks"][0]["title"] == "Step one"


def test_demo_seeds_a_plan_and_an_inactive_rule_once(administrator, group):
    from types import SimpleNamespace

    from incidents.response import demo
    from incidents.response.models import TriggerRule

    ctx = SimpleNamespace(users={"admin": administrator}, groups={"Service Desk": group})
    demo.seed(ctx)
    demo.seed(ctx)
    plan = ResponsePlan.objects.get()
    assert plan.current_version == 1 and plan.tasks.count() == 4 and plan.priorities == [1]
    rule = TriggerRule.objects.get()
    assert not rule.active and rule.conditions[1]["field"] == "service.criticality"
