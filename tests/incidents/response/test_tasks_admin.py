"""The console's task list on the incident page and the major incident workbench (add, start,
complete, cancel through worktasks, refusals as messages), the Task admin and "My tasks"."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from incidents.response.models import Task
from itsm.admin_navigation import navigation
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.incidents.response.factories import TaskFactory

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def incident(agent, group):
    return IncidentFactory(assignment_group=group, title="VPN down")


def test_incident_page_lists_tasks_with_buttons(client, agent, incident):
    task = TaskFactory(incident=incident, title="Call the ISP", due_at=timezone.now() - timedelta(minutes=5))
    client.force_login(agent)
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="tasks"' in html and "Call the ISP" in html and "Overdue" in html
    assert reverse("admin:incidents_task_run", args=[task.pk, "start"]) in html
    assert reverse("admin:incidents_task_add_to", args=["incident", incident.pk]) in html


def test_add_a_task_from_the_incident_page(client, agent, incident):
    client.force_login(agent)
    due = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("admin:incidents_task_add_to", args=["incident", incident.pk]),
        {"task-title": "Restart the concentrator", "task-due_at": due, "task-assignee": agent.pk},
    )
    assert response.status_code == 302 and response["Location"].endswith("#tasks")
    task = Task.objects.get(incident=incident)
    assert task.title == "Restart the concentrator" and task.assignee == agent and task.created_by == agent


def test_a_refused_add_is_a_message_and_writes_nothing(client, outsider, incident):
    client.force_login(outsider)
    response = client.post(
        reverse("admin:incidents_task_add_to", args=["incident", incident.pk]), {"task-title": "Sneaky"}
    )
    assert response.status_code == 302
    assert any(incident.number in m for m in _messages(response))
    assert not Task.objects.exists()


def test_past_due_from_the_console_is_refused(client, agent, incident):
    client.force_login(agent)
    past = (timezone.localtime() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("admin:incidents_task_add_to", args=["incident", incident.pk]),
        {"task-title": "Late", "task-due_at": past},
    )
    assert any("past" in m for m in _messages(response))
    assert not Task.objects.exists()


@pytest.mark.parametrize(("name", "state"), [("start", "in_progress"), ("complete", "done"), ("cancel", "cancelled")])
def test_buttons_run_the_transitions(client, agent, incident, name, state):
    task = TaskFactory(incident=incident)
    client.force_login(agent)
    response = client.post(reverse("admin:incidents_task_run", args=[task.pk, name]), {"version": "1"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == state


def test_a_stale_button_is_a_message(client, agent, incident):
    task = TaskFactory(incident=incident, version=3)
    client.force_login(agent)
    response = client.post(reverse("admin:incidents_task_run", args=[task.pk, "start"]), {"version": "1"})
    assert any("changed since" in m for m in _messages(response))
    task.refresh_from_db()
    assert task.state == "open"


def test_a_transition_not_allowed_now_is_a_message(client, agent, incident):
    task = TaskFactory(incident=incident, state="done")
    client.force_login(agent)
    response = client.post(reverse("admin:incidents_task_run", args=[task.pk, "start"]))
    assert any("done" in m and "available now" in m for m in _messages(response))


def test_workbench_lists_tasks_and_adds_one(client, mim):
    mi = MajorIncidentFactory(manager=mim)
    TaskFactory(major_incident=mi, title="Fail over the database", blocking=True)
    client.force_login(mim)
    page = client.get(reverse("admin:incidents_majorincident_change", args=[mi.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Fail over the database" in html and "Blocking" in html
    response = client.post(
        reverse("admin:incidents_task_add_to", args=["major", mi.pk]),
        {"task-title": "Tell sales", "task-blocking": "on"},
    )
    assert response["Location"] == reverse("admin:incidents_majorincident_change", args=[mi.pk]) + "#tasks"
    assert Task.objects.get(major_incident=mi, title="Tell sales").blocking


def test_console_resolve_with_an_open_blocking_task_names_it(client, mim):
    mi = MajorIncidentFactory(manager=mim)
    task = TaskFactory(major_incident=mi, title="Fail over the database", blocking=True)
    client.force_login(mim)
    response = client.post(
        reverse("admin:incidents_majorincident_transition", args=[mi.pk, "resolve"]),
        {"resolve-version": mi.version},
    )
    assert response.status_code in (200, 302)
    assert any("Fail over the database" in m and str(task.pk) in m for m in _messages(response))
    mi.refresh_from_db()
    assert mi.state == "active"


def test_my_tasks_lists_mine_and_my_groups_open_tasks_by_due(client, agent, group, incident):
    now = timezone.now()
    later = TaskFactory(incident=incident, title="Mine later", assignee=agent, due_at=now + timedelta(hours=5))
    sooner = TaskFactory(
        incident=incident, title="Group sooner", assignment_group=group, due_at=now + timedelta(hours=1)
    )
    TaskFactory(incident=incident, title="Mine but done", assignee=agent, state="done")
    stranger, elsewhere = UserFactory(), AssignmentGroupFactory()
    TaskFactory(incident=incident, title="Someone else", assignee=stranger, assignment_group=elsewhere)
    client.force_login(agent)
    mine = client.get(reverse("admin:incidents_task_mine"))
    assert mine["Location"].endswith("?mine=yes")
    page = client.get(mine["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Someone else" not in html and "Mine but done" not in html
    assert html.index(sooner.title) < html.index(later.title)


def test_my_tasks_is_in_the_agents_navigation(rf, agent):
    request = rf.get("/")
    request.user = agent
    links = [item["link"] for section in navigation(request) for item in section["items"]]
    assert reverse("admin:incidents_task_mine") in links


def test_task_admin_detail_renders_read_only(client, agent, incident):
    task = TaskFactory(incident=incident, title="Read me")
    client.force_login(agent)
    page = client.get(reverse("admin:incidents_task_change", args=[task.pk]))
    assert page.status_code == 200 and "Read me" in page.content.decode()
