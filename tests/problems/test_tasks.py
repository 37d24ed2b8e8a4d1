"""Tasks on problems: rca / general tasks through `incidents.response.worktasks` (the problem is a
record kind registered by `problems.worktask_records`), the refusals (409 on a problem that is
over, 403, 400 on a kind), the `task` rows on the problem's timeline, the owner's notification,
overdue reminders, the API under /api/v1/problems/{id}/tasks/ and the console panel."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from communications.models import Notification
from incidents.response import jobs, policy, records, worktasks
from incidents.response.admin.tasks import task_panel
from incidents.response.models import Task
from itsm import roles
from itsm.exceptions import Conflict
from problems.models import ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

DUE = timezone.now().replace(microsecond=0) + timedelta(days=1)


@pytest.fixture
def problem(manager):
    return ProblemFactory(title="Checkout times out under load", actor=manager)


def _task_rows(problem, event=None):
    rows = ProblemEvent.objects.filter(problem=problem, type="task")
    return list(rows.filter(data__event=event) if event else rows)


def test_rca_and_general_tasks_on_a_problem(manager, agent, problem):
    rca = worktasks.create_task(
        actor=manager, record=problem, title="Five whys on the pool exhaustion", kind="rca", assignee=agent, due_at=DUE
    )
    general = worktasks.create_task(actor=agent, record=problem, title="Collect the load balancer logs")
    assert (rca.problem_id, rca.incident_id, rca.major_incident_id) == (problem.pk, None, None)
    assert rca.kind == "rca" and general.kind == "general"  # general is the default
    assert list(problem.tasks.values_list("title", flat=True)) == [rca.title, general.title]
    assert records.for_task(rca).name == "problem" and rca.record == problem
    changed = worktasks.update_task(rca, actor=manager, changes={"kind": "general"})
    assert changed.kind == "general"


def test_a_kind_the_record_does_not_take_is_a_400(manager, agent, problem, group):
    for bad in ("", "postmortem"):
        with pytest.raises(ValidationError) as refused:
            worktasks.create_task(actor=manager, record=problem, title="A task", kind=bad)
        assert set(refused.value.message_dict) == {"kind"}
    incident = IncidentFactory(assignment_group=group)
    with pytest.raises(ValidationError) as refused:
        worktasks.create_task(actor=agent, record=incident, title="A task", kind="rca")
    assert "kind" in refused.value.message_dict
    assert worktasks.create_task(actor=agent, record=incident, title="Blank stays allowed").kind == ""
    assert not Task.objects.filter(problem=problem).exists()


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_a_problem_that_is_over_takes_no_task(manager, state):
    over = ProblemFactory(state=state, actor=manager)
    events = ProblemEvent.objects.filter(problem=over).count()
    with pytest.raises(Conflict) as refused:
        worktasks.create_task(actor=manager, record=over, title="Too late")
    assert over.number in str(refused.value) and state in str(refused.value)
    assert not Task.objects.exists() and ProblemEvent.objects.filter(problem=over).count() == events


def test_who_manages_problem_tasks(manager, agent, reader, make_user, problem):
    owner = make_user(roles.PROBLEM_MANAGER)
    owned = ProblemFactory(state="investigating", owner=owner, actor=manager)
    for user in (manager, agent):
        assert policy.can_add_task(user, problem)
    assert policy.can_add_task(owner, owned)
    decision = policy.can_add_task(reader, problem)
    assert not decision and problem.number in decision.reason
    with pytest.raises(PermissionDenied):
        worktasks.create_task(actor=reader, record=problem, title="Sneaky")
    assert not Task.objects.exists()
    assert policy.can_view_tasks(reader, problem)


def test_the_assignee_updates_and_completes_their_own_task(manager, reader, make_user, problem):
    mine = worktasks.create_task(actor=manager, record=problem, title="Check the GC logs", assignee=reader)
    other = worktasks.create_task(actor=manager, record=problem, title="Not theirs")
    mine = worktasks.update_task(mine, actor=reader, changes={"description": "Heap dumps attached."})
    assert worktasks.available_transitions(mine, reader) == ["start", "complete", "cancel"]
    assert worktasks.complete(mine, actor=reader).state == "done"
    with pytest.raises(PermissionDenied):
        worktasks.complete(other, actor=reader)
    with pytest.raises(PermissionDenied):
        worktasks.update_task(other, actor=reader, changes={"title": "Mine now"})
    other.refresh_from_db()
    assert other.state == "open" and other.title == "Not theirs"


def test_task_rows_on_the_problem_timeline_and_the_owner_is_told(manager, agent, problem):
    task = worktasks.create_task(actor=manager, record=problem, title="Map the fishbone", kind="rca", assignee=agent)
    worktasks.start(task, actor=agent)
    worktasks.cancel(task, actor=manager, reason="Covered by the five whys.")
    created, started, cancelled = _task_rows(problem)
    assert created.data["event"] == "created" and created.data["task"] == task.pk and created.data["kind"] == "rca"
    assert created.actor == manager
    assert started.data["event"] == "started" and cancelled.data["reason"] == "Covered by the five whys."
    [told] = Notification.objects.filter(event="task.assigned")
    assert told.recipient == agent.email and (told.subject_kind, told.subject_number) == ("problem", problem.number)
    assert ProblemEvent.objects.filter(problem=problem, type="notified", data__event="task.assigned").exists()


def test_overdue_problem_tasks_remind_their_owner(manager, agent, problem):
    task = worktasks.create_task(
        actor=manager, record=problem, title="Write the RCA", kind="rca", assignee=agent, due_at=DUE
    )
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=5)) == 1
    [reminder] = Notification.objects.filter(event="task.overdue")
    assert reminder.recipient == agent.email and reminder.subject_number == problem.number
    [row] = _task_rows(problem, "overdue")
    assert row.data["task"] == task.pk and row.data["overdue_minutes"] == 5
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=6)) == 0  # once per period
    task.refresh_from_db()
    assert task.reminder_count == 1


# --- API ----------------------------------------------------------------------------------------------
def test_api_create_list_and_complete_a_problem_task(api, manager, agent, problem):
    api.as_user(manager)
    base = f"/api/v1/problems/{problem.number}/tasks/"
    response = api.post(base, {"title": "Five whys", "kind": "rca", "assignee": agent.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["problem"] == problem.pk and body["kind"] == "rca" and body["incident"] is None
    assert response["ETag"]
    api.post(base, {"title": "Tell the vendor"}, format="json")
    listed = api.get(f"/api/v1/problems/{problem.pk}/tasks/").json()["results"]
    assert [(t["title"], t["kind"]) for t in listed] == [("Five whys", "rca"), ("Tell the vendor", "general")]
    assert api.get(base, {"state": "open"}).json()["count"] == 2
    api.as_user(agent)
    done = api.post(f"{base}{body['id']}/transitions/complete/", {}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "done"
    assert api.get("/api/v1/problems/PRB9999999/tasks/").status_code == 404


def test_api_refusals_on_problem_tasks(api, manager, reader, problem):
    api.as_user(manager)
    bad = api.post(f"/api/v1/problems/{problem.pk}/tasks/", {"title": "", "kind": "postmortem"}, format="json")
    assert bad.status_code == 400 and {"title"} <= set(bad.json().get("errors", bad.json()))
    bad_kind = api.post(f"/api/v1/problems/{problem.pk}/tasks/", {"title": "X", "kind": "postmortem"}, format="json")
    assert bad_kind.status_code == 400 and "kind" in bad_kind.content.decode()
    closed = ProblemFactory(state="closed", actor=manager)
    assert api.post(f"/api/v1/problems/{closed.pk}/tasks/", {"title": "Late"}, format="json").status_code == 409
    api.as_user(reader)
    assert api.post(f"/api/v1/problems/{problem.pk}/tasks/", {"title": "Sneaky"}, format="json").status_code == 403
    assert api.get(f"/api/v1/problems/{problem.pk}/tasks/").status_code == 200
    assert not Task.objects.exists()


# --- console ------------------------------------------------------------------------------------------
def test_the_panel_and_my_tasks_show_problem_tasks(client, manager, agent, problem):
    task = worktasks.create_task(
        actor=manager, record=problem, title="Trace the slow query", kind="rca", assignee=agent
    )
    request = RequestFactory().get("/")
    request.user = manager
    panel = task_panel(request, problem)
    assert [row["task"] for row in panel["rows"]] == [task] and panel["can_add"]
    assert "kind" in panel["form"].fields and "blocking" not in panel["form"].fields
    assert panel["add_url"] == reverse("admin:incidents_task_add_to", args=["problem", problem.pk])
    client.force_login(manager)
    added = client.post(panel["add_url"], {"task-title": "Draft the known error", "task-kind": "general"})
    assert added.status_code == 302
    assert problem.tasks.filter(title="Draft the known error", kind="general", created_by=manager).exists()
    client.force_login(agent)
    page = client.get(reverse("admin:incidents_task_changelist") + "?mine=yes")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Trace the slow query" in html and problem.number in html
    found = client.get(reverse("admin:incidents_task_changelist"), {"q": problem.number})
    assert "Trace the slow query" in found.content.decode()
