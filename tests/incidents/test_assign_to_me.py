""" "Assign to me": one rule (`services.assign_to_me`) behind the console's bulk action and the API's
`POST /api/v1/incidents/{id}/assign-to-me/`; refusals change nothing."""

import pytest

from incidents import services
from incidents.choices import TimelineType
from incidents.models import Incident, TimelineEvent
from itsm import roles
from tests.factories import AssignmentGroupFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def url(incident: Incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/assign-to-me/"


def snapshot(incident: Incident) -> tuple:
    incident.refresh_from_db()
    timeline = TimelineEvent.objects.filter(incident=incident).count()
    return incident.assignment_group_id, incident.assignee_id, incident.version, timeline


def test_api_assigns_the_caller_in_the_incidents_group(api, agent, service, group):
    incident = IncidentFactory(actor=agent, service=service)
    assert (incident.assignment_group_id, incident.assignee_id) == (group.pk, None)
    response = api.as_user(agent).post(url(incident), format="json")
    assert response.status_code == 200
    body = response.json()
    incident.refresh_from_db()
    assert (body["assignment_group"], body["assignee"]) == (group.pk, agent.pk)
    assert (incident.assignment_group_id, incident.assignee_id) == (group.pk, agent.pk)
    assert body["version"] == incident.version and response["ETag"] == f'"v{incident.version}"'
    assigned = TimelineEvent.objects.filter(incident=incident, type=TimelineType.ASSIGNED).order_by("-id").first()
    assert assigned.data["assignee"] == agent.pk


def test_without_a_group_the_callers_only_group_is_taken(api, agent, group):
    incident = IncidentFactory(actor=agent)
    assert incident.assignment_group_id is None
    response = api.as_user(agent).post(url(incident), format="json")
    assert response.status_code == 200
    assert (response.json()["assignment_group"], response.json()["assignee"]) == (group.pk, agent.pk)


def test_without_a_group_and_several_of_mine_is_400_and_changes_nothing(api, agent):
    AssignmentGroupFactory(name="Second team", members=[agent])
    incident = IncidentFactory(actor=agent)
    before = snapshot(incident)
    response = api.as_user(agent).post(url(incident), format="json")
    assert response.status_code == 400
    assert "assign it to a group first" in response.json()["errors"]["assignment_group"][0]
    assert snapshot(incident) == before


def test_without_any_group_of_mine_is_400(api, make_user, service):
    loner = make_user(roles.SERVICE_DESK_AGENT)
    incident = IncidentFactory(actor=loner)
    before = snapshot(incident)
    response = api.as_user(loner).post(url(incident), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"assignee": ["You are not a member of any assignment group."]}
    assert snapshot(incident) == before


def test_another_groups_incident_is_403_with_reason(api, agent, other_group):
    incident = IncidentFactory(assignment_group=other_group)
    before = snapshot(incident)
    response = api.as_user(agent).post(url(incident), format="json")
    assert response.status_code == 403
    assert "belongs to another group" in response.json()["detail"]
    assert snapshot(incident) == before


def test_read_only_is_403(api, reader, agent, service):
    incident = IncidentFactory(actor=agent, service=service)
    before = snapshot(incident)
    assert api.as_user(reader).post(url(incident), format="json").status_code == 403
    assert snapshot(incident) == before


def test_stale_if_match_is_412(api, agent, service):
    incident = IncidentFactory(actor=agent, service=service)
    client = api.as_user(agent)
    etag = client.get(f"/api/v1/incidents/{incident.pk}/")["ETag"]
    services.update_incident(incident.pk, actor=agent, changes={"title": "changed meanwhile"})
    before = snapshot(incident)
    response = client.post(url(incident), format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412 and response.json()["type"] == "precondition_failed"
    assert snapshot(incident) == before
    fresh = client.get(f"/api/v1/incidents/{incident.pk}/")["ETag"]
    assert client.post(url(incident), format="json", HTTP_IF_MATCH=fresh).status_code == 200


def test_closed_incident_is_409(api, agent, service):
    incident = IncidentFactory(actor=agent, service=service, state="closed")
    before = snapshot(incident)
    response = api.as_user(agent).post(url(incident), format="json")
    assert response.status_code == 409
    assert snapshot(incident) == before


def test_console_and_api_give_the_same_result(api, client, agent, service):
    by_console, by_api = (IncidentFactory(actor=agent, service=service) for _ in range(2))
    client.force_login(agent)
    client.post("/admin/incidents/incident/", {"action": "assign_to_me", "_selected_action": [by_console.pk]})
    api.as_user(agent).post(url(by_api), format="json")
    by_console.refresh_from_db()
    by_api.refresh_from_db()
    fields = ("assignment_group_id", "assignee_id", "version", "reassignment_count")
    assert [getattr(by_console, f) for f in fields] == [getattr(by_api, f) for f in fields]
    assert by_console.assignee_id == agent.pk


def test_schema_documents_assign_to_me(api, agent):
    schema = api.as_user(agent).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    operation = schema.json()["paths"]["/api/v1/incidents/{id}/assign-to-me/"]["post"]
    assert "200" in operation["responses"]
