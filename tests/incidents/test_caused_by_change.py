"""The change that caused an incident (`caused_by_change` and its summary): set by agents through
the one update use case, from the API and the console, on the timeline, refused when incomplete."""

import pytest

from incidents import services
from incidents.models import Incident
from itsm import roles
from tests.factories import AssignmentGroupFactory, ServiceFactory
from tests.incidents.factories import bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Service Desk", members=[agent])
    service = ServiceFactory(slug="vpn", owner_group=group)
    incident = services.open_incident(actor=agent, title="VPN down", service=service)
    return agent, incident


def test_an_agent_records_the_change_and_it_is_on_the_timeline(api, desk):
    agent, incident = desk
    body = {"caused_by_change": "CHG0001234", "caused_by_change_summary": "Firewall rule change on the VPN"}
    response = api.as_user(agent).patch(f"/api/v1/incidents/{incident.id}/", body, format="json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in body} == body
    changed = {e.data["field"] for e in incident.timeline.filter(type="field_changed")}
    assert {"caused_by_change", "caused_by_change_summary"} <= changed
    assert api.as_user(agent).get(f"/api/v1/incidents/{incident.id}/").json()["caused_by_change"] == "CHG0001234"


def test_an_incident_may_be_opened_naming_its_change(api, desk):
    agent, _ = desk
    body = {"title": "Mail bounces", "caused_by_change": "https://changes.example.com/CHG77"}
    response = api.as_user(agent).post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 201, response.content
    assert Incident.objects.get(pk=response.json()["id"]).caused_by_change == body["caused_by_change"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"caused_by_change_summary": "Something changed"}, "caused_by_change_summary"),
        ({"caused_by_change": "x" * 256}, "caused_by_change"),
    ],
)
def test_an_incomplete_or_too_long_reference_is_refused_and_nothing_changes(api, desk, body, field):
    agent, incident = desk
    response = api.as_user(agent).patch(f"/api/v1/incidents/{incident.id}/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    incident.refresh_from_db()
    assert (incident.caused_by_change, incident.caused_by_change_summary, incident.version) == ("", "", 1)


def test_a_resolved_incident_still_takes_its_cause_a_closed_one_does_not(api, desk):
    agent, incident = desk
    bring_to(incident, "resolved", actor=agent)
    client, url = api.as_user(agent), f"/api/v1/incidents/{incident.id}/"
    assert client.patch(url, {"caused_by_change": "CHG1"}, format="json").status_code == 200
    services.close(Incident.objects.get(pk=incident.pk), actor=agent)
    assert client.patch(url, {"caused_by_change": "CHG2"}, format="json").status_code == 409


def test_the_console_edits_it_through_the_same_use_case(client, desk):
    agent, incident = desk
    client.force_login(agent)
    page = client.get(f"/admin/incidents/incident/{incident.id}/change/")
    assert page.status_code == 200
    assert 'name="caused_by_change"' in page.content.decode()
    assert 'name="caused_by_change_summary"' in page.content.decode()
