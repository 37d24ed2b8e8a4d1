"""The overdue task reminder sweep (beat `remind-overdue-tasks`, every minute).

An open task (on any record kind: incident, major incident, problem) whose `next_reminder_at`
(its due time, then one reminder period later after each reminder) has come reminds its
assignee, or its group when nobody is assigned, once per overdue period
(`IncidentSettings.task_reminder_minutes`): a `task.overdue` notification, an `overdue` task
row on the record's timeline, `next_reminder_at` moved past now by whole periods and
`reminder_count` counted, in one transaction per task under the row lock. `LeasedSweep` claims
the due rows (two sweeps at once take different rows); the lock and the re-checked due time make
each reminder exactly-once. Registered with the worker by `incidents.tasks`, which imports this.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from incidents.models import IncidentSettings
from incidents.response import records, worktasks
from incidents.response import timeline as task_timeline
from incidents.response.choices import OPEN_TASK_STATES
from incidents.response.models import Task
from itsm.sweep import LeasedSweep

SWEEP = LeasedSweep(Task)
LEASE = timedelta(minutes=5)
SWEEP_LIMIT = 500


def due_tasks(now: datetime):
    """Open tasks whose next reminder is due."""
    return Task.objects.filter(state__in=OPEN_TASK_STATES, next_reminder_at__lte=now)


def remind_one(pk: int, now: datetime, period: timedelta, system) -> bool:
    """Remind one task if it is still due (row-locked; skipped when another worker holds it)."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(*records.related(), "assignee", "assignment_group")
            .filter(pk=pk, state__in=OPEN_TASK_STATES, next_reminder_at__lte=now)
            .first()
        )
        if task is None:  # done meanwhile, already reminded for this period, or held elsewhere
            Task.objects.filter(pk=pk, queued_at__isnull=False, next_reminder_at__gt=now).update(queued_at=None)
            return False
        due_at = task.due_at or task.next_reminder_at
        periods = (now - task.next_reminder_at) // period + 1  # whole periods to move past now
        task.next_reminder_at = task.next_reminder_at + periods * period
        task.reminder_count += 1
        task.queued_at = None
        # Sweep bookkeeping, not a change of the task: no version bump.
        task.save(update_fields=["next_reminder_at", "reminder_count", "queued_at"])
        overdue_minutes = max(0, int((now - due_at).total_seconds()) // 60)
        task_timeline.write(
            task,
            system,
            task_timeline.OVERDUE,
            due_at=due_at.isoformat(),
            period=task.reminder_count,
            overdue_minutes=overdue_minutes,
            assignee=task.assignee_id,
            assignment_group=task.assignment_group_id,
        )
        reminder = {
            "due_at": due_at.isoformat(),
            "period": task.reminder_count,
            "overdue_minutes": overdue_minutes,
            "period_minutes": int(period.total_seconds() // 60),
        }
        worktasks.notify_owner(task, worktasks.OVERDUE, None, extra={"reminder": reminder})
    return True


def remind_overdue_tasks_due(now: datetime | None = None, *, limit: int = SWEEP_LIMIT) -> int:
    """Claim the due tasks and remind each once for the overdue period `now` falls in; how many reminded."""
    from incidents.services import system_user  # here, not at the top: incidents.services imports much

    now = now or timezone.now()
    ids = SWEEP.claim(due_tasks(now), now=now, lease=LEASE, limit=limit, order_by=("next_reminder_at", "id"))
    if not ids:
        return 0
    period = timedelta(minutes=max(1, IncidentSettings.current().task_reminder_minutes))
    system = system_user()
    return sum(1 for pk in ids if remind_one(pk, now, period, system))


@shared_task(ignore_result=True)
def remind_overdue_tasks() -> int:
    """Every minute: remind the owners of overdue open tasks (once per overdue period); returns how many."""
    return remind_overdue_tasks_due()
