"""Task use cases: create, update, the transitions (a matrix), validation, versions, the timeline
rows and the owner's notification. Negative cases assert nothing was written."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from communications.models import Notification
from incidents.major.models import MajorIncidentEvent
from incidents.models import TimelineEvent
from incidents.response import worktasks
from incidents.response.models import Task
from itsm.exceptions import Conflict, InvalidTransition, StaleRecord
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.incidents.response.factories import TaskFactory

pytestmark = pytest.mark.django_db


def _task_rows(record):
    model = MajorIncidentEvent if record.__class__.__name__ == "MajorIncident" else TimelineEvent
    field = "major_incident" if model is MajorIncidentEvent else "incident"
    return list(model.objects.filter(**{field: record}, type="task").order_by("id"))


def _counts():
    models = (Task, TimelineEvent, MajorIncidentEvent, Notification)
    return tuple(model.objects.count() for model in models)


@pytest.fixture
def incident(agent, group):
    return IncidentFactory(assignment_group=group)


def test_create_task_on_an_incident_writes_the_timeline_and_tells_the_assignee(agent, incident):
    owner = UserFactory()
    due = timezone.now() + timedelta(hours=2)
    task = worktasks.create_task(actor=agent, record=incident, title="  Call the vendor ", assignee=owner, due_at=due)
    assert task.title == "Call the vendor"
    assert task.state == "open" and task.version == 1 and task.next_reminder_at == due
    assert task.created_by == agent and task.source == "manual"
    [row] = _task_rows(incident)
    assert row.data["task"] == task.pk and row.data["event"] == "created" and row.data["title"] == "Call the vendor"
    assert row.actor == agent
    sent = Notification.objects.filter(event="task.assigned")
    assert [n.recipient for n in sent] == [owner.email]


def test_create_task_on_a_major_incident_by_the_system(mim):
    mi = MajorIncidentFactory()
    group = AssignmentGroupFactory(email="db@example.com")
    task = worktasks.create_task(actor=None, record=mi, title="Fail over", assignment_group=group, blocking=True)
    assert task.major_incident == mi and task.incident is None and task.blocking
    [row] = _task_rows(mi)
    assert row.data["event"] == "created" and row.actor is None
    assert Notification.objects.filter(event="task.assigned", recipient="db@example.com").exists()


def test_group_without_mailbox_tells_its_members(mim):
    mi = MajorIncidentFactory()
    a, b = UserFactory(), UserFactory()
    group = AssignmentGroupFactory(email="", members=[a, b])
    worktasks.create_task(actor=mim, record=mi, title="Check", assignment_group=group)
    recipients = set(Notification.objects.filter(event="task.assigned").values_list("recipient", flat=True))
    assert recipients == {a.email, b.email}


def test_positions_default_to_the_end(agent, incident):
    first = worktasks.create_task(actor=agent, record=incident, title="One")
    second = worktasks.create_task(actor=agent, record=incident, title="Two")
    assert (first.position, second.position) == (0, 1)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": "ok", "due_at": "past"}, "due_at"),
        ({"title": "ok", "assignee": 999999}, "assignee"),
        ({"title": "ok", "assignment_group": 999999}, "assignment_group"),
        ({"title": "ok", "blocking": "yes"}, "blocking"),
        ({"title": "ok", "position": -1}, "position"),
        ({"title": "ok", "role": "boss"}, "role"),
        ({"title": "ok", "source": "magic"}, "source"),
    ],
)
def test_create_refuses_bad_input_naming_the_field_and_writes_nothing(agent, incident, fields, bad):
    if fields.get("due_at") == "past":
        fields["due_at"] = timezone.now() - timedelta(hours=1)
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        worktasks.create_task(actor=agent, record=incident, **fields)
    assert bad in exc.value.message_dict
    assert _counts() == before


def test_past_due_is_allowed_for_plans(incident):
    past = timezone.now() - timedelta(hours=1)
    task = worktasks.create_task(actor=None, record=incident, title="Late", due_at=past, allow_past_due=True)
    assert task.due_at == past


def test_create_is_refused_to_an_agent_of_another_group(outsider, incident):
    before = _counts()
    with pytest.raises(PermissionDenied, match=incident.number):
        worktasks.create_task(actor=outsider, record=incident, title="Nope")
    assert _counts() == before


def test_update_changes_fields_bumps_the_version_and_tells_the_new_assignee(agent, incident):
    task = TaskFactory(incident=incident, due_at=timezone.now() + timedelta(hours=1))
    owner = UserFactory()
    new_due = timezone.now() + timedelta(hours=3)
    worktasks.update_task(
        task, actor=agent, changes={"title": "Renamed", "assignee": owner.pk, "due_at": new_due}, expected_version=1
    )
    task.refresh_from_db()
    assert task.title == "Renamed" and task.assignee == owner and task.version == 2
    assert task.next_reminder_at == new_due
    [row] = _task_rows(incident)
    assert row.data["event"] == "changed" and set(row.data["changes"]) == {"title", "assignee", "due_at"}
    assert Notification.objects.filter(event="task.assigned", recipient=owner.email).exists()


def test_update_without_a_change_writes_nothing(agent, incident):
    task = TaskFactory(incident=incident, title="Same")
    worktasks.update_task(task, actor=agent, changes={"title": "Same"})
    task.refresh_from_db()
    assert task.version == 1 and _task_rows(incident) == []


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"state": "done"}, ValidationError, "state"),
        ({"bogus": 1}, ValidationError, "bogus"),
        ({"title": ""}, ValidationError, "title"),
        ({"blocking": 3}, ValidationError, "blocking"),
    ],
)
def test_update_refuses_bad_input_and_writes_nothing(agent, incident, changes, error, field):
    task = TaskFactory(incident=incident)
    before = _counts()
    with pytest.raises(error) as exc:
        worktasks.update_task(task, actor=agent, changes=changes)
    assert field in exc.value.message_dict
    assert _counts() == before
    task.refresh_from_db()
    assert task.version == 1


def test_update_with_a_stale_version_is_412(agent, incident):
    task = TaskFactory(incident=incident)
    with pytest.raises(StaleRecord):
        worktasks.update_task(task, actor=agent, changes={"title": "x"}, expected_version=7)
    task.refresh_from_db()
    assert task.title != "x"


def test_update_of_a_closed_task_is_409(agent, incident):
    task = TaskFactory(incident=incident, state="done")
    with pytest.raises(InvalidTransition):
        worktasks.update_task(task, actor=agent, changes={"title": "x"})


# --- transitions: the matrix ----------------------------------------------------------------------
MATRIX = [
    ("open", "start", "in_progress"),
    ("open", "complete", "done"),
    ("open", "cancel", "cancelled"),
    ("in_progress", "start", None),
    ("in_progress", "complete", "done"),
    ("in_progress", "cancel", "cancelled"),
    ("done", "start", None),
    ("done", "complete", None),
    ("done", "cancel", None),
    ("cancelled", "start", None),
    ("cancelled", "complete", None),
    ("cancelled", "cancel", None),
]
EVENTS = {"start": "started", "complete": "completed", "cancel": "cancelled"}


@pytest.mark.parametrize(("source", "name", "target"), MATRIX)
def test_transition_matrix(agent, incident, source, name, target):
    task = TaskFactory(incident=incident, state=source, due_at=timezone.now() + timedelta(hours=1))
    before = _counts()
    if target is None:
        with pytest.raises(InvalidTransition) as exc:
            worktasks.run_task_transition(task, name, actor=agent)
        assert source in str(exc.value) and "available now" in str(exc.value)
        assert _counts() == before
        task.refresh_from_db()
        assert task.state == source and task.version == 1
        return
    worktasks.run_task_transition(task, name, actor=agent, expected_version=1)
    task.refresh_from_db()
    assert task.state == target and task.version == 2
    assert (task.next_reminder_at is None) == (target in ("done", "cancelled"))
    [row] = _task_rows(incident)
    assert row.data["event"] == EVENTS[name] and row.data["from"] == source and row.data["to"] == target


def test_cancel_keeps_its_reason(agent, incident):
    task = TaskFactory(incident=incident)
    worktasks.run_task_transition(task, "cancel", actor=agent, payload={"reason": "Not needed"})
    task.refresh_from_db()
    assert task.cancel_reason == "Not needed" and task.cancelled_at is not None
    assert _task_rows(incident)[0].data["reason"] == "Not needed"


@pytest.mark.parametrize(
    ("name", "payload", "error"),
    [
        ("fly", {}, ValidationError),
        ("start", {"reason": "x"}, ValidationError),
        ("cancel", {"reason": 5}, ValidationError),
    ],
)
def test_bad_transition_requests_write_nothing(agent, incident, name, payload, error):
    task = TaskFactory(incident=incident)
    before = _counts()
    with pytest.raises(error):
        worktasks.run_task_transition(task, name, actor=agent, payload=payload)
    assert _counts() == before


def test_transition_with_a_stale_version_is_412(agent, incident):
    task = TaskFactory(incident=incident)
    with pytest.raises(StaleRecord):
        worktasks.run_task_transition(task, "start", actor=agent, expected_version=2)
    task.refresh_from_db()
    assert task.state == "open"


def test_open_blocking_tasks():
    mi = MajorIncidentFactory()
    held = TaskFactory(major_incident=mi, blocking=True, state="in_progress")
    TaskFactory(major_incident=mi, blocking=True, state="done")
    TaskFactory(major_incident=mi, blocking=False)
    assert worktasks.open_blocking_tasks(mi) == [held]


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_an_incident_that_is_over_takes_no_new_task(agent, group, state):
    from tests.incidents.factories import bring_to

    incident = bring_to(IncidentFactory(assignment_group=group), state, actor=agent)
    before = _counts()
    with pytest.raises(Conflict, match="takes no new tasks"):
        worktasks.create_task(actor=None, record=incident, title="Too late")
    assert _counts() == before


@pytest.mark.parametrize("state", ["closed", "rejected"])
def test_a_major_incident_that_is_over_takes_no_new_task(state):
    mi = MajorIncidentFactory(state=state)
    before = _counts()
    with pytest.raises(Conflict, match="takes no new tasks"):
        worktasks.create_task(actor=None, record=mi, title="Too late")
    assert _counts() == before
