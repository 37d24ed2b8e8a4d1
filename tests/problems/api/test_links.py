"""/api/v1/problems/{id}/incidents/ and /major-incidents/: list, link (409 naming the other open
problem, `move`), unlink (204; 404 when not linked), both timelines."""

import pytest

from incidents.models import Incident, MajorIncident
from problems.models import ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/problems/"


def test_link_list_and_unlink_incidents(api, agent, service):
    problem = ProblemFactory()
    first, second = IncidentFactory(service=service), IncidentFactory()
    client = api.as_user(agent)
    linked = client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [first.number, second.pk]}, format="json")
    assert linked.status_code == 200, linked.json()
    rows = linked.json()["results"]
    assert [r["id"] for r in rows] == [first.pk, second.pk]
    assert set(rows[0]) == {
        "id",
        "number",
        "title",
        "state",
        "priority",
        "service",
        "assignment_group",
        "assignee",
        "opened_at",
    }
    assert rows[0]["service"] == service.slug
    assert [r["id"] for r in client.get(f"{URL}{problem.number}/incidents/").json()["results"]] == [first.pk, second.pk]
    assert first.timeline.filter(type="linked", data__kind="problem", data__target=problem.pk).exists()
    assert ProblemEvent.objects.filter(problem=problem, type="linked", data__target=first.pk).exists()

    assert client.delete(f"{URL}{problem.pk}/incidents/{first.number}/").status_code == 204
    assert Incident.objects.get(pk=first.pk).problem_id is None
    assert first.timeline.filter(type="unlinked").exists()
    assert client.delete(f"{URL}{problem.pk}/incidents/{first.pk}/").status_code == 404  # no longer linked
    assert client.delete(f"{URL}{problem.pk}/incidents/999999/").status_code == 404
    assert client.get(f"{URL}{problem.pk}/").json()["incidents"] == [second.pk]


def test_an_incident_of_another_open_problem_is_409_unless_moved(api, agent):
    holder, problem = ProblemFactory(), ProblemFactory()
    incident = IncidentFactory()
    client = api.as_user(agent)
    client.post(f"{URL}{holder.pk}/incidents/", {"incidents": [incident.pk]}, format="json")
    refused = client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [incident.pk]}, format="json")
    assert refused.status_code == 409
    assert holder.number in refused.json()["detail"] and "incidents" in refused.json()["errors"]
    assert Incident.objects.get(pk=incident.pk).problem_id == holder.pk
    moved = client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [incident.pk], "move": True}, format="json")
    assert moved.status_code == 200
    assert Incident.objects.get(pk=incident.pk).problem_id == problem.pk


def test_an_incident_of_a_cancelled_problem_links_freely(api, manager):
    old = ProblemFactory()
    incident = IncidentFactory()
    client = api.as_user(manager)
    client.post(f"{URL}{old.pk}/incidents/", {"incidents": [incident.pk]}, format="json")
    client.post(f"{URL}{old.pk}/transitions/cancel/", {"reason": "Not a problem."}, format="json")
    problem = ProblemFactory()
    assert client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [incident.pk]}, format="json").status_code == 200


def test_bad_link_bodies_are_400(api, agent):
    problem = ProblemFactory()
    client = api.as_user(agent)
    for body in ({}, {"incidents": []}, {"incidents": ["nope"]}, {"incidents": [999999]}, {"incidents": [1], "x": 1}):
        response = client.post(f"{URL}{problem.pk}/incidents/", body, format="json")
        assert response.status_code == 400, body
    assert client.post(f"{URL}PRB9999999/incidents/", {"incidents": [1]}, format="json").status_code == 404


def test_link_and_unlink_major_incidents(api, agent):
    holder, problem = ProblemFactory(), ProblemFactory()
    mi = MajorIncidentFactory()
    client = api.as_user(agent)
    linked = client.post(f"{URL}{holder.pk}/major-incidents/", {"major_incidents": [mi.number]}, format="json")
    assert linked.status_code == 200, linked.json()
    assert [r["id"] for r in linked.json()["results"]] == [mi.pk]
    assert client.get(f"{URL}{holder.pk}/").json()["major_incidents"] == [mi.pk]
    refused = client.post(f"{URL}{problem.pk}/major-incidents/", {"major_incidents": [mi.pk]}, format="json")
    assert refused.status_code == 409 and holder.number in refused.json()["detail"]
    moved = client.post(
        f"{URL}{problem.pk}/major-incidents/", {"major_incidents": [mi.pk], "move": True}, format="json"
    )
    assert moved.status_code == 200
    assert client.get(f"{URL}{problem.pk}/major-incidents/").json()["results"][0]["number"] == mi.number
    assert client.delete(f"{URL}{holder.pk}/major-incidents/{mi.pk}/").status_code == 404
    assert client.delete(f"{URL}{problem.pk}/major-incidents/{mi.number}/").status_code == 204
    assert MajorIncident.objects.get(pk=mi.pk).problem_id is None
