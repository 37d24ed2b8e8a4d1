"""Overdue task reminders: once per overdue period (a fixed clock passed as `now`), to the
assignee or else the group, an `overdue` row on the record's timeline, the lease and repeated
sweeps, the beat entry and the worker registration."""

from datetime import timedelta

import pytest
from django.utils import timezone

from communications.models import Notification
from incidents.major.models import MajorIncidentEvent
from incidents.models import IncidentSettings, TimelineEvent
from incidents.response import jobs, worktasks
from incidents.response.models import Task
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.incidents.response.factories import TaskFactory

pytestmark = pytest.mark.django_db

DUE = timezone.now().replace(microsecond=0) + timedelta(days=1)
OVERDUE = "task.overdue"


def _reminders():
    return list(Notification.objects.filter(event=OVERDUE).order_by("id"))


@pytest.fixture
def owner():
    return UserFactory(first_name="Olga", last_name="Owner")


@pytest.fixture
def task(owner):
    return TaskFactory(title="Call the ISP", assignee=owner, due_at=DUE)


def test_not_before_it_is_due(task):
    assert jobs.remind_overdue_tasks_due(DUE - timedelta(seconds=1)) == 0
    assert _reminders() == []


def test_once_per_overdue_period(task, owner):
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=1)) == 1
    [sent] = _reminders()
    assert sent.recipient == owner.email
    task.refresh_from_db()
    assert task.reminder_count == 1 and task.next_reminder_at == DUE + timedelta(minutes=60)
    assert task.queued_at is None and task.version == 1  # bookkeeping, not a change
    [row] = TimelineEvent.objects.filter(incident=task.incident, type="task", data__event="overdue")
    assert row.data["task"] == task.pk and row.data["period"] == 1 and row.data["overdue_minutes"] == 1
    # The same period: no second reminder, however often the sweep runs.
    for minutes in (2, 30, 59):
        assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=minutes)) == 0
    assert len(_reminders()) == 1
    # The next period: one more.
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=61)) == 1
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=62)) == 0
    assert len(_reminders()) == 2
    task.refresh_from_db()
    assert task.reminder_count == 2 and task.next_reminder_at == DUE + timedelta(minutes=120)


def test_a_long_outage_reminds_once_and_moves_past_now(task):
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(hours=5, minutes=10)) == 1
    task.refresh_from_db()
    assert task.next_reminder_at == DUE + timedelta(hours=6)
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(hours=5, minutes=50)) == 0


def test_the_period_comes_from_the_incident_settings(task):
    settings = IncidentSettings.current()
    settings.task_reminder_minutes = 15
    settings.save()
    jobs.remind_overdue_tasks_due(DUE)
    task.refresh_from_db()
    assert task.next_reminder_at == DUE + timedelta(minutes=15)


def test_the_group_is_reminded_when_nobody_is_assigned():
    members = [UserFactory(), UserFactory()]
    group = AssignmentGroupFactory(email="", members=members)
    mi = MajorIncidentFactory()
    task = TaskFactory(major_incident=mi, assignment_group=group, due_at=DUE)
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=1)) == 1
    assert {n.recipient for n in _reminders()} == {m.email for m in members}
    row = MajorIncidentEvent.objects.get(major_incident=mi, type="task", data__event="overdue")
    assert row.data["task"] == task.pk


def test_closed_and_undated_tasks_are_never_reminded(owner, agent):
    done = TaskFactory(assignee=owner, due_at=DUE)
    worktasks.run_task_transition(done, "complete", actor=None)
    TaskFactory(assignee=owner, due_at=None)
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(hours=3)) == 0
    done.refresh_from_db()
    assert done.next_reminder_at is None


def test_a_task_leased_by_another_sweep_is_skipped(task):
    Task.objects.filter(pk=task.pk).update(queued_at=DUE)
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=1)) == 0
    # The lease expires (a sweep that died): the next one takes it.
    assert jobs.remind_overdue_tasks_due(DUE + jobs.LEASE + timedelta(minutes=1)) == 1


def test_two_sweeps_with_the_same_clock_remind_once(task):
    now = DUE + timedelta(minutes=3)
    assert [jobs.remind_overdue_tasks_due(now), jobs.remind_overdue_tasks_due(now)] == [1, 0]
    assert len(_reminders()) == 1


def test_remind_one_skips_a_task_no_longer_due(task):
    system = None
    period = timedelta(minutes=60)
    assert jobs.remind_one(task.pk, DUE + timedelta(minutes=1), period, system) is True
    assert jobs.remind_one(task.pk, DUE + timedelta(minutes=1), period, system) is False
    assert len(_reminders()) == 1


def test_changing_the_due_time_restarts_the_reminders(task, agent):
    jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=1))
    later = DUE + timedelta(days=1)
    worktasks.update_task(task, actor=None, changes={"due_at": later})
    task.refresh_from_db()
    assert task.next_reminder_at == later
    assert jobs.remind_overdue_tasks_due(DUE + timedelta(minutes=61)) == 0


def test_the_beat_task_and_its_schedule():
    from incidents import tasks as incident_tasks
    from itsm.celery import BEAT_SCHEDULE, app

    assert BEAT_SCHEDULE["remind-overdue-tasks"] == {
        "task": "incidents.response.jobs.remind_overdue_tasks",
        "schedule": 60.0,
    }
    assert incident_tasks.task_jobs is jobs
    assert "incidents.response.jobs.remind_overdue_tasks" in app.tasks
    assert jobs.remind_overdue_tasks.delay().get() == 0
