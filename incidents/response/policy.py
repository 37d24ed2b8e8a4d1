"""Who may see, add, change and move tasks: the one place the console and the API both ask.

A task follows its record. On an incident, whoever may change the incident (`incidents.policy`:
its group's agents and resolvers, Major Incident Managers, administrators) manages its tasks,
and nobody changes the tasks of a closed or cancelled incident. On a major incident, whoever
runs it (`incidents.major.policy.can_run`: Major Incident Managers and the leads named on the
record) manages its tasks, and a task's assignee and the members of its group may also start,
complete or cancel their own task. `actor=None` is the system (plans and rules). Every refusal
says why (the API's 403 detail).
"""

from __future__ import annotations

from incidents import policy as incident_policy
from incidents.major import policy as major_policy
from incidents.policy import ALLOW, Decision
from itsm import roles


def is_system_actor(user) -> bool:
    """None (work the product does itself: plans, rules) or the system account."""
    return user is None or incident_policy.is_system(user)


def _is_major(record) -> bool:
    return record.__class__.__name__ == "MajorIncident"


def can_view_tasks(user, record) -> Decision:
    """Whoever reads the record reads its tasks."""
    if is_system_actor(user):
        return ALLOW
    if _is_major(record):
        return major_policy.can_view(user, record)
    return incident_policy.can_view(user, record)


def can_add_task(user, record) -> Decision:
    """Whoever changes the incident (or runs the major incident) adds tasks to it."""
    if is_system_actor(user):
        return ALLOW
    if _is_major(record):
        decision = major_policy.can_run(user, record)
        if not decision:
            return Decision(False, f"Only Major Incident Managers and the leads of {record.number} add tasks to it.")
        return ALLOW
    decision = incident_policy.can_update(user, record)
    if not decision:
        return Decision(False, f"You may not add tasks to {record.number}: {decision.reason}")
    return ALLOW


def _owns(user, task) -> bool:
    uid = getattr(user, "pk", None)
    if uid is None:
        return False
    if task.assignee_id is not None and task.assignee_id == uid:
        return True
    return task.assignment_group_id is not None and task.assignment_group_id in roles.group_ids(user)


def can_change_task(user, task) -> Decision:
    """Edit a task's fields: the same people who add tasks to its record."""
    if is_system_actor(user):
        return ALLOW
    record = task.record
    if _is_major(record):
        if major_policy.can_run(user, record):
            return ALLOW
        return Decision(False, f"Only Major Incident Managers and the leads of {record.number} change its tasks.")
    decision = incident_policy.can_update(user, record)
    if not decision:
        return Decision(False, f"You may not change tasks of {record.number}: {decision.reason}")
    return ALLOW


def can_transition_task(user, task, name: str) -> Decision:
    """Start, complete or cancel a task: whoever changes it, and on a major incident also the
    task's assignee and the members of its group (their own task)."""
    if is_system_actor(user):
        return ALLOW
    record = task.record
    if _is_major(record):
        if major_policy.can_run(user, record) or _owns(user, task):
            return ALLOW
        return Decision(
            False,
            f"Only Major Incident Managers, the leads of {record.number} and the task's assignee or group "
            f"may {name} this task.",
        )
    decision = incident_policy.can_update(user, record)
    if not decision:
        return Decision(False, f"You may not {name} tasks of {record.number}: {decision.reason}")
    return ALLOW
