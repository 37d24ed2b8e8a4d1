"""Who may see, add, change and move tasks: the one place the console and the API both ask.

A task follows its record, through its kind in `incidents.response.records`. On an incident,
whoever may change the incident (`incidents.policy`: its group's agents and resolvers, Major
Incident Managers, administrators) manages its tasks, and nobody changes the tasks of a closed
or cancelled incident. On a major incident, whoever runs it (`incidents.major.policy.can_run`:
Major Incident Managers and the leads named on the record) manages its tasks, and a task's
assignee and the members of its group may also start, complete or cancel their own task. Other
kinds (problems) register their own rule and what an owner may do to their own task.
`actor=None` is the system (plans and rules). Every refusal says why (the API's 403 detail).
"""

from __future__ import annotations

from incidents import policy as incident_policy
from incidents.policy import ALLOW, Decision
from incidents.response import records
from itsm import roles


def is_system_actor(user) -> bool:
    """None (work the product does itself: plans, rules) or the system account."""
    return user is None or incident_policy.is_system(user)


def can_view_tasks(user, record) -> Decision:
    """Whoever reads the record reads its tasks."""
    if is_system_actor(user):
        return ALLOW
    return records.for_record(record).can_view(user, record)


def can_add_task(user, record) -> Decision:
    """Whoever manages the record's tasks (changes the incident, runs the major incident...) adds tasks."""
    if is_system_actor(user):
        return ALLOW
    decision = records.for_record(record).can_manage(user, record)
    return ALLOW if decision else Decision(False, decision.reason)


def _owns(user, task) -> bool:
    uid = getattr(user, "pk", None)
    if uid is None:
        return False
    if task.assignee_id is not None and task.assignee_id == uid:
        return True
    return task.assignment_group_id is not None and task.assignment_group_id in roles.group_ids(user)


def can_change_task(user, task) -> Decision:
    """Edit a task's fields: whoever adds tasks to its record, and where the kind says so the
    task's own assignee or group."""
    if is_system_actor(user):
        return ALLOW
    kind = records.for_task(task)
    decision = kind.can_manage(user, task.record)
    if decision or (kind.owner_edits_own and _owns(user, task)):
        return ALLOW
    return Decision(False, decision.reason)


def can_transition_task(user, task, name: str) -> Decision:
    """Start, complete or cancel a task: whoever changes it, and where the kind says so (major
    incidents, problems) also the task's assignee and the members of its group (their own task)."""
    if is_system_actor(user):
        return ALLOW
    kind = records.for_task(task)
    decision = kind.can_manage(user, task.record)
    if decision or (kind.owner_moves_own and _owns(user, task)):
        return ALLOW
    if kind.owner_moves_own:
        return Decision(False, f"{decision.reason} The task's assignee or group may {name} it too; you are neither.")
    return Decision(False, f"You may not {name} this task: {decision.reason}")
