"""The console's queues and the API's `queue` parameter are one query (`IncidentQuerySet.in_queue`)."""

import pytest

from incidents import services
from incidents.choices import Queue
from incidents.models import Incident
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(agent, make_user, service, group, other_group):
    colleague = make_user(groups=[group])
    mine = IncidentFactory(actor=agent, service=service)
    services.assign(mine, actor=agent, assignee=agent)
    return {
        "mine": mine,
        "group_unassigned": IncidentFactory(actor=agent, service=service),
        "colleagues": services.assign(IncidentFactory(actor=agent, service=service), actor=agent, assignee=colleague),
        "foreign": IncidentFactory(assignment_group=other_group),
        "mine_closed": IncidentFactory(actor=agent, service=service, state="closed", group=group),
    }


@pytest.mark.parametrize("queue", Queue.values)
def test_api_queue_matches_the_console_queue(api, client, agent, rows, queue):
    expected = set(Incident.objects.in_queue(queue, agent).values_list("number", flat=True))
    response = api.as_user(agent).get("/api/v1/incidents/", {"queue": queue, "page_size": 50})
    assert response.status_code == 200
    assert {row["number"] for row in response.json()["results"]} == expected
    client.force_login(agent)
    page = client.get("/admin/incidents/incident/", {"queue": queue}).content.decode()
    for number in {i.number for i in rows.values()}:
        assert (number in page) is (number in expected), (queue, number)


def test_my_work_is_open_mine_and_my_groups_unassigned(agent, rows):
    found = set(Incident.objects.in_queue(Queue.MY_WORK, agent))
    assert found == {rows["mine"], rows["group_unassigned"]}


def test_unknown_queue_is_400(api, agent):
    response = api.as_user(agent).get("/api/v1/incidents/", {"queue": "everything"})
    assert response.status_code == 400 and "queue" in response.json()["errors"]
