"""Tasks on problems: what the task model (`incidents.response`) needs to know about a problem.

The problem is registered as a task record kind (`incidents.response.records`), so the task use
cases, API, console panel, "My tasks" and the overdue reminders work on problems while the
incidents app never imports this one. Problem tasks are `rca` (root cause analysis) or `general`
(the default). Problem Managers, the problem's owner and whoever may change the problem
(`problems.policy.can_change`) manage its tasks; a task's assignee (or a member of its group)
updates and completes their own. A closed or cancelled problem takes no new task (409).
"""

from __future__ import annotations

from dataclasses import replace

from django.urls import NoReverseMatch, reverse

from incidents.policy import ALLOW, Decision
from incidents.response import records
from problems import events, notify, policy
from problems.choices import ProblemState, ProblemTimelineType
from problems.models import Problem

TASK_KINDS = ("general", "rca")  # the first is the default
CLOSED_STATES = (ProblemState.CLOSED, ProblemState.CANCELLED)


def refuses_tasks(problem: Problem) -> str:
    """Why `problem` takes no new task now ("" when it does)."""
    if problem.state in CLOSED_STATES:
        return f"{problem.number} is {problem.state}: a problem that is over takes no new tasks."
    return ""


def can_manage(user, problem: Problem) -> Decision:
    """Problem Managers, the owner and whoever may change the problem add and change its tasks."""
    if policy.is_manager(user) or policy.is_owner(user, problem) or policy.can_change(user, problem):
        return ALLOW
    return Decision(False, f"Only Problem Managers, its owner and those who may change {problem.number} manage tasks.")


def write_task_row(problem_id: int, actor, data: dict):
    """The `task` row on the problem's timeline."""
    return events.write(problem_id, ProblemTimelineType.TASK, actor, data)


def note_notified(problem: Problem, event_type: str, written: list) -> None:
    """Each queued notification about a task noted on the problem's timeline."""
    notify.note_notified(problem, [(event_type, written)])


def console_url(problem: Problem) -> str:
    """The problem's page in the console (the API's address before the console exists)."""
    try:
        return reverse("admin:problems_problem_change", args=[problem.pk])
    except NoReverseMatch:
        return f"/api/v1/problems/{problem.pk}/"


def subject(problem: Problem):
    """The problem as communications sees it, without watchers (a task concerns its owner)."""
    return replace(notify.subject_for(problem), watcher_ids=())


PROBLEM = records.RecordKind(
    name="problem",
    key="problem",
    model=Problem,
    label="problem",
    refuses_tasks=refuses_tasks,
    can_view=policy.can_view,
    can_manage=can_manage,
    write_task_row=write_task_row,
    context=lambda problem: {"problem": notify.problem_context(problem)},
    subject=subject,
    note_notified=note_notified,
    console_url=console_url,
    task_kinds=TASK_KINDS,
    owner_moves_own=True,
    owner_edits_own=True,
)


def register() -> None:
    """Register the problem as a record tasks can belong to (idempotent; from ProblemsConfig.ready())."""
    records.register(PROBLEM)
