"""Console pages of response plans and trigger rules: they render, a save publishes, bad input is refused."""

import pytest
from django.urls import reverse

from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion, TriggerFiring, TriggerRule
from itsm import roles
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, make_user):
    client.force_login(make_user(roles.ADMINISTRATOR, is_staff=True))
    return client


def plan_form(**fields):
    data = {
        "name": "Outage",
        "description": "",
        "position": "10",
        "active": "on",
        "priorities": "[1]",
        "audiences": '["internal"]',
        "update_cadence_minutes": "20",
        "update_templates": '[{"name": "First", "body": "Looking at {title}."}]',
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
        "tasks-0-position": "0",
        "tasks-0-title": "Open the bridge",
        "tasks-0-description": "",
        "tasks-0-role": "manager",
        "tasks-0-due_offset_minutes": "0",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    return data | fields


def test_saving_a_plan_publishes_a_version(console):
    response = console.post(reverse("admin:incidents_responseplan_add"), plan_form())
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    plan = ResponsePlan.objects.get()
    assert plan.current_version == 1
    assert ResponsePlanVersion.objects.get().content["tasks"][0]["title"] == "Open the bridge"

    page = console.get(reverse("admin:incidents_responseplan_change", args=[plan.pk]))
    assert page.status_code == 200 and b"version history" in page.content.lower()
    assert console.get(reverse("admin:incidents_responseplan_changelist")).status_code == 200
    version = ResponsePlanVersion.objects.get()
    assert console.get(reverse("admin:incidents_responseplanversion_change", args=[version.pk])).status_code == 200


def test_a_negative_offset_is_refused_and_nothing_saved(console):
    response = console.post(
        reverse("admin:incidents_responseplan_add"), plan_form(**{"tasks-0-due_offset_minutes": "-5"})
    )
    assert response.status_code == 200
    assert b"greater than or equal to 0" in response.content
    assert not ResponsePlan.objects.exists() and not PlanTask.objects.exists()


def test_trigger_rule_pages_render_with_stats(console):
    rule = TriggerRule.objects.create(name="P1", conditions=[{"field": "priority", "op": "eq", "value": 1}])
    TriggerFiring.objects.create(rule=rule, incident=IncidentFactory(), event="created", decision="failed")
    changelist = console.get(reverse("admin:incidents_triggerrule_changelist"))
    assert changelist.status_code == 200 and b"Accepted" in changelist.content
    assert console.get(reverse("admin:incidents_triggerrule_change", args=[rule.pk])).status_code == 200
    assert console.get(reverse("admin:incidents_triggerfiring_changelist")).status_code == 200


def test_a_rule_with_an_unknown_field_is_refused(console):
    response = console.post(
        reverse("admin:incidents_triggerrule_add"),
        {
            "name": "Bad",
            "position": "1",
            "action": "propose",
            "conditions": '[{"field": "colour", "op": "eq", "value": 1}]',
        },
    )
    assert response.status_code == 200 and b"unknown field" in response.content
    assert not TriggerRule.objects.exists()
