"""Overdue task reminders on PostgreSQL with Redis and a real Celery worker: the worker runs the
`remind_overdue_tasks` sweep and delivers the reminder to the loopback SMTP server, once per
overdue period; concurrent sweeps in their own connections remind each task exactly once
(`LeasedSweep` claims with `FOR UPDATE SKIP LOCKED`, the row lock and the moved
`next_reminder_at` make the reminder exactly-once)."""

import time
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.utils import timezone

from communications.models import Notification, NotificationRule
from incidents.models import TimelineEvent
from incidents.response import jobs, worktasks
from incidents.response.models import Task
from itsm import roles
from itsm.queue import send_now
from tests.helpers import run_in_threads, wait_for
from tests.incidents.factories import IncidentFactory

OVERDUE = "task.overdue"


@pytest.fixture
def live(transactional_db, worker, smtp):
    NotificationRule.objects.all().delete()  # recipients are exactly the task's owner
    smtp.messages.clear()
    yield worker


def test_the_worker_delivers_the_overdue_reminder_once_per_period(live, smtp, make_user):
    owner = make_user(roles.RESOLVER, email="olga@example.com", first_name="Olga", last_name="Owner")
    incident = IncidentFactory(title="VPN down")
    task = worktasks.create_task(
        actor=None,
        record=incident,
        title="Call the ISP",
        assignee=owner,
        due_at=timezone.now() - timedelta(minutes=2),
        allow_past_due=True,
    )
    assigned = Notification.objects.filter(event="task.assigned", recipient=owner.email)
    wait_for(lambda: assigned.filter(status="sent").exists(), timeout=30)

    assert send_now(jobs.remind_overdue_tasks)  # the worker runs the sweep
    reminders = Notification.objects.filter(event=OVERDUE)
    wait_for(lambda: reminders.filter(status="sent").count() == 1, timeout=30)

    def overdue_mails():
        parsed = [message_from_bytes(raw) for raw in list(smtp.messages)]
        return [m for m in parsed if "overdue" in (m["Subject"] or "").lower()]

    (message,) = wait_for(overdue_mails, timeout=15)
    assert owner.email in message["To"] and "Call the ISP" in message["Subject"]
    task.refresh_from_db()
    assert task.reminder_count == 1 and task.next_reminder_at > timezone.now()

    # The same overdue period: the sweep finds nothing, however often it runs.
    assert send_now(jobs.remind_overdue_tasks)
    assert jobs.remind_overdue_tasks_due() == 0
    time.sleep(1.5)  # room for a duplicate to show up
    assert len(overdue_mails()) == 1 and reminders.count() == 1
    assert TimelineEvent.objects.filter(incident=incident, type="task", data__event="overdue").count() == 1

    # The next period: one more reminder.
    next_period = task.next_reminder_at + timedelta(seconds=1)
    assert jobs.remind_overdue_tasks_due(next_period) == 1
    wait_for(lambda: reminders.filter(status="sent").count() == 2, timeout=30)


def test_concurrent_sweeps_remind_each_task_once(transactional_db, make_user, monkeypatch):
    owners = [make_user(roles.RESOLVER, username=f"owner{i}") for i in range(3)]
    due = timezone.now() - timedelta(minutes=5)
    tasks = []
    for i in range(3):
        incident = IncidentFactory(title=f"incident {i}")
        for j in range(6):
            tasks.append(
                worktasks.create_task(
                    actor=None,
                    record=incident,
                    title=f"task {i}.{j}",
                    assignee=owners[j % 3],
                    due_at=due,
                    allow_past_due=True,
                )
            )
    monkeypatch.setattr(jobs, "SWEEP_LIMIT", 5)  # several claims per sweep, so the sweeps interleave
    real = worktasks.notify_owner
    reminded: list[int] = []

    def slow(task, event_type, actor, extra=None):
        time.sleep(0.05)  # hold the row lock a while: the other sweeps must skip, not wait or repeat
        reminded.append(task.pk)
        return real(task, event_type, actor, extra)

    monkeypatch.setattr(worktasks, "notify_owner", slow)
    now = timezone.now()

    def sweep(_):
        total = 0
        while count := jobs.remind_overdue_tasks_due(now, limit=jobs.SWEEP_LIMIT):
            total += count
        return total

    results = run_in_threads(4, sweep)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(tasks)
    assert sorted(reminded) == sorted(t.pk for t in tasks)  # each task reminded exactly once
    assert set(Task.objects.values_list("reminder_count", flat=True)) == {1}
    assert Notification.objects.filter(event=OVERDUE).count() == len(tasks)
    assert jobs.remind_overdue_tasks_due(now) == 0
