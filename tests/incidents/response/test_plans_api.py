"""Response plan API: nested tasks and communication plan, a save publishes a version, bad input 400."""

import pytest

from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion
from itsm import roles

pytestmark = pytest.mark.django_db

URL = "/api/v1/response-plans/"


def body(**fields):
    return {
        "name": "Payments outage",
        "services": [],
        "priorities": [1, 2],
        "tasks": [
            {"title": "Open the bridge", "role": "manager", "due_offset_minutes": 0, "blocking": True},
            {"title": "Tell support", "due_offset_minutes": 15},
        ],
        "communication_plan": {
            "audiences": ["internal", "external"],
            "update_cadence_minutes": 20,
            "update_templates": [{"name": "First", "audience": "external", "body": "We are looking at {services}."}],
        },
        **fields,
    }


def test_create_then_change_publishes_versions(api, administrator, service, group):
    api.as_user(administrator)
    response = api.post(URL, body(services=[service.slug]), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["current_version"] == 1 and [v["number"] for v in data["versions"]] == [1]
    assert data["services"] == [service.slug] and data["priorities"] == [1, 2]
    assert [t["title"] for t in data["tasks"]] == ["Open the bridge", "Tell support"]
    assert data["communication_plan"]["update_cadence_minutes"] == 20
    plan = ResponsePlan.objects.get()

    same = api.patch(f"{URL}{plan.pk}/", {"description": "Only the text."}, format="json")
    assert same.status_code == 200 and same.json()["current_version"] == 1  # the snapshot did not change

    response = api.patch(
        f"{URL}{plan.pk}/",
        {"tasks": [{"title": "Page the DBA", "assignment_group": group.pk, "due_offset_minutes": 5}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["current_version"] == 2
    assert [v["number"] for v in response.json()["versions"]] == [2, 1]
    assert ResponsePlanVersion.objects.get(number=1).content["tasks"][0]["title"] == "Open the bridge"
    assert list(PlanTask.objects.values_list("title", flat=True)) == ["Page the DBA"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tasks": [{"title": "Late", "due_offset_minutes": -5}]}, "tasks"),
        ({"priorities": [0]}, "priorities"),
        ({"services": ["no-such-service"]}, "services"),
        ({"categories": [2**70]}, "categories"),  # beyond a bigint: a 400, not a database overflow
        ({"communication_plan": {"audiences": ["everyone"]}}, "communication_plan"),
        ({"communication_plan": {"update_templates": [{"name": "x"}]}}, "communication_plan"),
    ],
)
def test_bad_plans_are_400_and_write_nothing(api, administrator, change, field):
    response = api.as_user(administrator).post(URL, body(**change), format="json")
    assert response.status_code == 400, response.json()
    assert any(key.split(".")[0] == field for key in response.json()["errors"]), response.json()
    assert not ResponsePlan.objects.exists() and not ResponsePlanVersion.objects.exists()


def test_a_negative_offset_on_patch_changes_nothing(api, administrator):
    api.as_user(administrator)
    plan_id = api.post(URL, body(), format="json").json()["id"]
    response = api.patch(f"{URL}{plan_id}/", {"tasks": [{"title": "x", "due_offset_minutes": -1}]}, format="json")
    assert response.status_code == 400
    assert "greater than or equal to 0" in str(response.json()["errors"])
    assert PlanTask.objects.count() == 2 and ResponsePlanVersion.objects.count() == 1


def test_mims_read_and_only_administrators_write(api, make_user, administrator):
    plan_id = api.as_user(administrator).post(URL, body(), format="json").json()["id"]
    api.as_user(make_user(roles.MAJOR_INCIDENT_MANAGER))
    assert api.get(f"{URL}{plan_id}/").status_code == 200
    assert api.patch(f"{URL}{plan_id}/", {"name": "Renamed"}, format="json").status_code == 403
    api.as_user(make_user(roles.RESOLVER))
    assert api.get(URL).status_code == 403
    assert ResponsePlan.objects.get().name == "Payments outage"
