"""The problem console: list, add, the problem page, edits through update_problem, permissions.

Driven through the Django test client as people click; assertions read the database afterwards,
and refusals assert that nothing was written.
"""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from itsm import roles
from problems import lifecycle, links
from problems.admin.problem import ProblemAdmin
from problems.choices import ProblemState
from problems.models import Problem, ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

S = ProblemState
CHANGELIST = "/admin/problems/problem/"


def change_url(problem: Problem) -> str:
    return reverse("admin:problems_problem_change", args=[problem.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_data(problem: Problem, **overrides) -> dict:
    """What the change form posts for `problem` as loaded now (plus overrides)."""
    data = {
        "title": problem.title,
        "description": problem.description,
        "service": problem.service_id or "",
        "category": problem.category_id or "",
        "impact": problem.impact,
        "urgency": problem.urgency,
        "assignment_group": problem.assignment_group_id or "",
        "owner": problem.owner_id or "",
        "rca_method": problem.rca_method,
        "root_cause": problem.root_cause,
        "contributing_factors": "\n".join(problem.contributing_factors),
        "workaround": problem.workaround,
        "fix": problem.fix,
        "fix_reference": problem.fix_reference,
        "lessons_learned": problem.lessons_learned,
        "loaded_version": problem.version,
        "_save": "Save",
    }
    data.update(overrides)
    return data


# --- list ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?state__exact=new&state__exact=investigating",
        "?source__exact=manual",
        "?workaround=yes",
        "?workaround=no",
        "?q=vpn",
        "?q=PRB0000001",
        "?q=1",
        "?o=3",
        "?o=-7",
    ],
)
def test_list_renders_with_each_filter(console, problem, query):
    response = console.get(CHANGELIST + query)
    assert response.status_code == 200, response.content[:500]


def test_list_columns_filters_and_counts(console, manager, service, agent):
    vpn = ProblemFactory(actor=manager, title="VPN drops", service=service, state="known_error", owner=manager)
    mail = ProblemFactory(actor=manager, title="Mail slow")
    for _ in range(3):
        links.link_incidents(vpn, actor=manager, incidents=[IncidentFactory(actor=agent, service=service)])
    html = console.get(CHANGELIST).content.decode()
    assert vpn.number in html and mail.number in html
    assert "Known error" in html and "Paul Problem" in html
    assert ">3<" in html  # the linked-incident count column

    def listed(query):
        page = console.get(CHANGELIST + query).content.decode()
        return {p.number for p in (vpn, mail) if p.number in page}

    assert listed("?workaround=yes") == {vpn.number}
    assert listed("?workaround=no") == {mail.number}
    assert listed("?state__exact=new") == {mail.number}
    assert listed(f"?service__id__exact={service.pk}") == {vpn.number}
    assert listed(f"?owner__id__exact={manager.pk}") == {vpn.number}
    assert listed("?q=mail") == {mail.number}
    assert listed(f"?q={vpn.number}") == {vpn.number}


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(CHANGELIST).status_code == 200
    return len(ctx.captured_queries)


def test_list_queries_do_not_grow(console, manager, service, agent, monkeypatch):
    monkeypatch.setattr(ProblemAdmin, "list_per_page", 3)
    for _ in range(4):
        problem = ProblemFactory(actor=manager, service=service, state="investigating", owner=manager)
        links.link_incidents(problem, actor=manager, incidents=[IncidentFactory(actor=agent, service=service)])
    few = _list_queries(console)
    for _ in range(10):
        problem = ProblemFactory(actor=manager, service=service, state="investigating", owner=manager)
        links.link_incidents(problem, actor=manager, incidents=[IncidentFactory(actor=agent, service=service)])
    assert _list_queries(console) == few


# --- add -------------------------------------------------------------------------------------------
def test_add_opens_a_problem_through_the_use_case(console, manager, service, group):
    response = console.post(
        f"{CHANGELIST}add/",
        {
            "title": "Printers vanish",
            "description": "Every Monday",
            "service": service.pk,
            "impact": 1,
            "urgency": 2,
            "owner": manager.pk,
            "_save": "Save",
        },
    )
    problem = Problem.objects.get(title="Printers vanish")
    assert response.status_code == 302 and response.url == change_url(problem)
    assert problem.number.startswith("PRB") and problem.priority == 2
    assert problem.assignment_group == group  # the service's owner group
    assert ProblemEvent.objects.filter(problem=problem, type="created").exists()


def test_add_refuses_an_owner_who_is_not_a_manager_with_nothing_written(console, agent):
    response = console.post(
        f"{CHANGELIST}add/", {"title": "X", "impact": 2, "urgency": 2, "owner": agent.pk, "_save": "Save"}
    )
    assert response.status_code == 200
    assert not Problem.objects.filter(title="X").exists()


# --- the problem page --------------------------------------------------------------------------------
@pytest.mark.parametrize("state", [s.value for s in S])
def test_page_renders_every_panel_in_each_state(console, manager, service, agent, state):
    problem = ProblemFactory(actor=manager, service=service, owner=manager)
    links.link_incidents(problem, actor=manager, incidents=[IncidentFactory(actor=agent, service=service)])
    from tests.problems.factories import bring_to

    problem = bring_to(problem, state, actor=manager, owner=manager)
    html = console.get(change_url(problem)).content.decode()
    for panel in ('id="known-error"', 'id="linked"', 'id="majors"', 'id="tasks"', 'id="timeline"'):
        assert panel in html, panel
    assert problem.number in html
    if state in (S.KNOWN_ERROR, S.RESOLVED, S.CLOSED):
        assert "known-error-uses" in html
    if state in (S.CLOSED, S.CANCELLED):
        assert "can no longer be changed" in html
        assert 'name="title"' not in html
    else:
        assert 'name="title"' in html and 'name="loaded_version"' in html
    for name in lifecycle.available_transitions(problem, manager):
        assert f"transition/{name}/" in html


def test_page_queries_do_not_grow_with_links_and_events(console, manager, service, agent):
    problem = ProblemFactory(actor=manager, service=service, state="investigating", owner=manager)
    with CaptureQueriesContext(connection) as ctx:
        console.get(change_url(problem))
    few = len(ctx.captured_queries)
    links.link_incidents(
        problem, actor=manager, incidents=[IncidentFactory(actor=agent, service=service) for _ in range(8)]
    )
    for n in range(5):
        lifecycle.update_problem(problem, actor=manager, changes={"description": f"step {n}"})
    with CaptureQueriesContext(connection) as ctx:
        console.get(change_url(problem))
    assert len(ctx.captured_queries) <= few + 2  # the state count and name lookups, never per row


def test_edit_goes_through_update_problem_with_the_rca_editor(console, manager, problem):
    data = form_data(
        problem,
        title="VPN drops sessions under load",
        rca_method="five_whys",
        why_1="Why do sessions drop?",
        answer_1="The session table is full.",
        why_2="Why is it full?",
        answer_2="Idle sessions never expire.",
        contributing_factors="No alert on table size\nDefault timeout",
    )
    response = console.post(change_url(problem), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    problem.refresh_from_db()
    assert problem.title == "VPN drops sessions under load"
    assert problem.rca_notes == {
        "whys": [
            {"why": "Why do sessions drop?", "answer": "The session table is full."},
            {"why": "Why is it full?", "answer": "Idle sessions never expire."},
        ]
    }
    assert problem.contributing_factors == ["No alert on table size", "Default timeout"]
    assert ProblemEvent.objects.filter(problem=problem, type="field_changed", data__field="title").exists()
    html = console.get(change_url(problem)).content.decode()
    assert "Idle sessions never expire." in html


def test_fishbone_notes_by_category(console, problem):
    data = form_data(
        problem, rca_method="fishbone", fishbone_technology="Old firmware\nNo HA", fishbone_supplier="Late patch"
    )
    assert console.post(change_url(problem), data).status_code == 302
    problem.refresh_from_db()
    assert problem.rca_notes == {"causes": {"technology": ["Old firmware", "No HA"], "supplier": ["Late patch"]}}


def test_a_stale_save_is_refused_and_nothing_is_overwritten(console, manager, problem):
    stale = form_data(problem, title="Mine")
    lifecycle.update_problem(problem, actor=manager, changes={"title": "Theirs"})
    response = console.post(change_url(problem), stale)
    assert response.status_code == 200
    assert "changed since you read it" in response.content.decode()
    problem.refresh_from_db()
    assert problem.title == "Theirs"


def test_a_bad_field_is_named_and_nothing_written(console, problem, agent):
    version = problem.version
    response = console.post(change_url(problem), form_data(problem, owner=agent.pk))
    assert response.status_code == 200
    problem.refresh_from_db()
    assert problem.owner_id is None and problem.version == version


# --- permissions -----------------------------------------------------------------------------------
def test_read_only_sees_but_cannot_change(reader_console, problem):
    html = reader_console.get(change_url(problem)).content.decode()
    assert problem.number in html
    assert 'name="title"' not in html
    assert "transition/" not in html
    assert reader_console.get(CHANGELIST).status_code == 200
    assert reader_console.get(f"{CHANGELIST}add/").status_code == 403
    version = problem.version
    reader_console.post(change_url(problem), form_data(problem, title="Hacked"))
    problem.refresh_from_db()
    assert problem.title != "Hacked" and problem.version == version


def test_agents_edit_but_run_no_transition(agent_console, problem, manager):
    html = agent_console.get(change_url(problem)).content.decode()
    assert 'name="title"' in html
    assert "transition/investigate/" not in html
    url = reverse("admin:problems_problem_transition_investigate", args=[problem.pk])
    response = agent_console.post(url, {"owner": manager.pk, "version": problem.version})
    assert response.status_code == 302
    assert any("Only Problem Managers" in t for t in texts(response))
    problem.refresh_from_db()
    assert problem.state == S.NEW and problem.owner_id is None


def test_settings_page_is_one_row(client, administrator, make_user):
    client.force_login(administrator)
    response = client.get("/admin/problems/problemsettings/")
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    client.force_login(make_user(roles.PROBLEM_MANAGER))
    assert client.get(response.url).status_code == 200  # managers read it
    html = client.get("/admin/").content.decode()
    assert "/admin/problems/problem/" in html and "/admin/problems/knownerror/" in html
    assert "/admin/problems/problemsettings/" in html


def test_the_page_carries_the_shared_task_panel(console, manager, agent, problem):
    from incidents.response import worktasks

    worktasks.create_task(actor=manager, record=problem, title="Trace the slow query", kind="rca", assignee=agent)
    html = console.get(change_url(problem)).content.decode()
    assert 'id="tasks"' in html and "Trace the slow query" in html
    assert reverse("admin:incidents_task_add_to", args=["problem", problem.pk]) in html
