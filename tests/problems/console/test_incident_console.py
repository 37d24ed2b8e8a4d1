"""What problems add to the incident console through `incidents.admin.extensions`: the bulk
actions "Link to problem" and "Raise a problem", and the incident page's problem panel with the
suggested known errors and "Apply workaround"."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.admin import extensions
from incidents.choices import IncidentState
from incidents.models import Incident, TimelineEvent
from problems import lifecycle, links
from problems.choices import ProblemSource
from problems.models import KnownError, KnownErrorUse, Problem
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/incidents/incident/"


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def incident_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def bulk(client, action: str, incidents, **fields):
    data = {"action": action, "_selected_action": [i.pk for i in incidents], "index": 0, **fields}
    return client.post(CHANGELIST, data)


@pytest.fixture
def known_error(manager, service):
    problem = ProblemFactory(
        actor=manager,
        title="VPN gateway drops sessions",
        description="Sessions drop",
        service=service,
        state="investigating",
        owner=manager,
    )
    lifecycle.run_transition(
        problem, "mark_known_error", actor=manager, payload={"workaround": "Reconnect to the second gateway."}
    )
    return KnownError.objects.get(problem=problem)


def test_the_actions_are_registered_and_offered(client, agent, reader, incident):
    assert {"link_to_problem", "raise_problem"} <= set(extensions._actions)
    client.force_login(agent)
    html = client.get(CHANGELIST).content.decode()
    assert "Link to problem" in html and "Raise a problem" in html
    client.force_login(reader)
    assert "Raise a problem" not in client.get(CHANGELIST).content.decode()


def test_bulk_link_to_problem(agent_console, agent, service, problem, incident):
    second = IncidentFactory(actor=agent, service=service)
    response = bulk(agent_console, "link_to_problem", [incident, second])
    assert response.status_code == 200 and 'name="problem"' in response.content.decode()
    response = bulk(agent_console, "link_to_problem", [incident, second], apply=1, problem=problem.number)
    assert response.status_code == 302
    assert set(Incident.objects.filter(problem=problem).values_list("pk", flat=True)) == {incident.pk, second.pk}
    assert TimelineEvent.objects.filter(incident=incident, type="linked").exists()


def test_bulk_link_refuses_incidents_held_elsewhere_unless_moved(agent_console, manager, service, problem, incident):
    other = ProblemFactory(actor=manager, service=service)
    links.link_incidents(other, actor=manager, incidents=[incident])
    response = bulk(agent_console, "link_to_problem", [incident], apply=1, problem=problem.number)
    assert any(other.number in t for t in texts(response))
    assert Incident.objects.get(pk=incident.pk).problem_id == other.pk
    bulk(agent_console, "link_to_problem", [incident], apply=1, problem=problem.number, move="on")
    assert Incident.objects.get(pk=incident.pk).problem_id == problem.pk


def test_bulk_link_to_an_unknown_problem_names_it(agent_console, incident):
    response = bulk(agent_console, "link_to_problem", [incident], apply=1, problem="PRB0999999")
    assert response.status_code == 200
    assert "No such problem" in response.content.decode()


def test_raise_a_problem_copies_and_links(agent_console, agent, service, incident):
    second = IncidentFactory(actor=agent, service=service, title="Also VPN")
    response = bulk(agent_console, "raise_problem", [incident, second], apply=1, title="")
    problem = Problem.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:problems_problem_change", args=[problem.pk])
    assert problem.source == ProblemSource.REACTIVE
    assert problem.service == incident.service and problem.description == incident.description
    assert problem.title == incident.title
    assert set(Incident.objects.filter(problem=problem).values_list("pk", flat=True)) == {incident.pk, second.pk}


def test_read_only_cannot_run_the_bulk_actions(reader_console, incident):
    bulk(reader_console, "raise_problem", [incident], apply=1)
    assert not Problem.objects.exists()


# --- the incident page ------------------------------------------------------------------------------
def test_incident_page_shows_its_problem_and_workaround(agent_console, manager, service, incident, known_error):
    problem = known_error.problem
    links.link_incidents(problem, actor=manager, incidents=[incident])
    html = agent_console.get(incident_url(incident)).content.decode()
    assert 'id="incident-problem"' in html and problem.number in html
    assert "Reconnect to the second gateway." in html


def test_suggestions_with_score_and_apply_workaround(agent_console, incident, known_error):
    html = agent_console.get(incident_url(incident)).content.decode()
    assert f'id="suggestion-{known_error.pk}"' in html
    assert "score " in html and "Same service" in html
    apply = reverse("admin:problems_knownerror_apply", args=[known_error.pk, incident.pk])
    assert apply in html
    response = agent_console.post(apply, {"resolve": "1"})
    assert response.status_code == 302 and response.url == incident_url(incident)
    incident.refresh_from_db()
    known_error.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED and incident.resolution_code == "workaround"
    assert known_error.uses == 1 and known_error.deflections == 1
    assert TimelineEvent.objects.filter(incident=incident, type="workaround_applied").exists()


def test_applying_twice_is_a_message_and_nothing_more(agent_console, incident, known_error):
    apply = reverse("admin:problems_knownerror_apply", args=[known_error.pk, incident.pk])
    agent_console.post(apply)
    response = agent_console.post(apply)
    assert response.status_code == 302
    assert any("already applied" in t for t in texts(response))
    assert KnownErrorUse.objects.filter(incident=incident).count() == 1
    html = agent_console.get(incident_url(incident)).content.decode()
    assert "Applied" in html


def test_read_only_sees_suggestions_without_apply(reader_console, incident, known_error):
    html = reader_console.get(incident_url(incident)).content.decode()
    assert f'id="suggestion-{known_error.pk}"' in html
    assert "Apply workaround" not in html
    reader_console.post(reverse("admin:problems_knownerror_apply", args=[known_error.pk, incident.pk]))
    assert not KnownErrorUse.objects.exists()


def test_incident_page_queries_stay_constant_with_more_known_errors(
    agent_console, manager, service, incident, known_error
):
    agent_console.get(incident_url(incident))  # the settings row is created on first read
    with CaptureQueriesContext(connection) as ctx:
        agent_console.get(incident_url(incident))
    few = len(ctx.captured_queries)
    for n in range(4):
        problem = ProblemFactory(
            actor=manager, title=f"VPN gateway issue {n}", service=service, state="investigating", owner=manager
        )
        lifecycle.run_transition(problem, "mark_known_error", actor=manager, payload={"workaround": "Reboot."})
    with CaptureQueriesContext(connection) as ctx:
        html = agent_console.get(incident_url(incident)).content.decode()
    assert html.count('id="suggestion-') == 5
    assert len(ctx.captured_queries) == few


# --- KEDB search page ------------------------------------------------------------------------------
def test_kedb_search_ranks_with_score_and_filters(agent_console, manager, known_error, service):
    other = ProblemFactory(actor=manager, title="Printer offline", state="investigating", owner=manager)
    lifecycle.run_transition(other, "mark_known_error", actor=manager, payload={"workaround": "Power cycle."})
    html = agent_console.get("/admin/problems/knownerror/?q=vpn+gateway").content.decode()
    assert known_error.problem.number in html and other.number not in html
    assert "Score" in html
    html = agent_console.get(f"/admin/problems/knownerror/?services__id__exact={service.pk}").content.decode()
    assert known_error.problem.number in html and other.number not in html
    html = agent_console.get("/admin/problems/knownerror/?state__exact=published&q=printer&o=1").content.decode()
    assert other.number in html
    page = agent_console.get(reverse("admin:problems_knownerror_change", args=[known_error.pk]))
    assert page.status_code == 200 and "Reconnect to the second gateway." in page.content.decode()
    assert agent_console.get("/admin/problems/knownerror/add/").status_code == 403


def test_a_resolved_incident_offers_no_apply_and_refuses_it(agent_console, agent, service, known_error):
    from tests.incidents.factories import bring_to

    incident = IncidentFactory(actor=agent, service=service, title="VPN gateway drops my session")
    bring_to(incident, "resolved", actor=agent)
    html = agent_console.get(incident_url(incident)).content.decode()
    assert f'id="suggestion-{known_error.pk}"' not in html
    response = agent_console.post(reverse("admin:problems_knownerror_apply", args=[known_error.pk, incident.pk]))
    assert response.status_code == 302 and texts(response)
    assert not KnownErrorUse.objects.exists()


def test_the_incident_console_imports_nothing_of_problems():
    from tests.helpers import ROOT, imports_of

    for path in (ROOT / "incidents").rglob("*.py"):
        assert not {m for m in imports_of(ROOT, path) if m.split(".")[0] == "problems"}, path
