"""What the problem practice registers with communications: its event types, their shipped
templates (`problems/templates/problems/notifications/`), a sample problem for template
previews and its default rule. Called once from `ProblemsConfig.ready()`.

Sample contexts document what the shipped templates read (`problems.notify.problem_context`):

- problem.*: `problem` {id, number, title, state, priority, source, service (slug), service_name,
  owner (name), root_cause, workaround, fix, fix_reference, lessons_learned, recurrence_count, url}
- problem.known_error: `known_error` (the article's id)
- problem.workaround_changed: `workaround` (the new text)
- problem.resolved: `resolved_incidents` (ids resolved with `resolve_linked`, else [])
- problem.recurrence: `incidents` (numbers linked after resolution), `recurrence_count`
- every event: `actor` {id, name} when a person caused it

Default rules: a new or recurring problem goes to the Problem Managers; a known error, a
resolution and a closure to the problem's group, its owner and its watchers; a workaround change
to the explicit recipients the use case names (the assignees of the linked open incidents) and
the watchers.
"""

from communications import registry
from communications.subject import Subject
from itsm import roles

_WORK = {
    "problems.problem": ["view", "add", "change"],
    "problems.problemevent": ["view"],
    "problems.knownerror": ["view"],
    "problems.knownerroruse": ["view"],
}
_READ = {
    "problems.problem": ["view"],
    "problems.problemevent": ["view"],
    "problems.knownerror": ["view"],
    "problems.knownerroruse": ["view"],
}
# problems.policy decides object by object; these model grants open the console's pages to match.
ROLE_PERMISSIONS: dict[str, list[dict[str, list[str]]]] = {
    roles.SERVICE_DESK_AGENT: [_WORK],
    roles.RESOLVER: [_WORK],
    roles.MAJOR_INCIDENT_MANAGER: [_WORK],
    roles.PROBLEM_MANAGER: [_WORK, {"problems.problemsettings": ["view"]}],
    roles.INTEGRATION: [_WORK],
    roles.ADMINISTRATOR: [_WORK, {"problems.problemsettings": ["view", "change"]}],
    roles.READ_ONLY: [_READ],
}

EVENT_TYPES: dict[str, str] = {
    "problem.created": "Problem created",
    "problem.known_error": "Problem is a known error",
    "problem.workaround_changed": "Problem workaround published or changed",
    "problem.resolved": "Problem resolved",
    "problem.closed": "Problem closed",
    "problem.recurrence": "Problem recurred after resolution",
}
TEMPLATES = "problems/notifications"
# The historical rule "Problem: known error and resolution to the group" (communications 0002:
# group and watchers) stays installed where it is; the one below extends it (duplicates are
# notified once: recipients are de-duplicated per notification).
DEFAULT_RULES: dict[str, dict] = {
    "Problem created or recurring: tell the Problem Managers": {
        "events": ["problem.created", "problem.recurrence"],
        "roles": [roles.PROBLEM_MANAGER],
        "description": "Proactive problems (trend detection) and recurrences after resolution included.",
    },
    "Problem known error, resolved or closed: tell the group, the owner and the watchers": {
        "events": ["problem.known_error", "problem.resolved", "problem.closed"],
        "recipients": ["group", "assignee", "watchers"],
        "description": "The owner is the problem's assignee.",
    },
    "Problem workaround changed: tell the watchers": {
        "events": ["problem.workaround_changed"],
        "recipients": ["watchers"],
        "description": "The assignees of the linked open incidents are told by the problem itself.",
    },
}
PROBLEM = {
    "id": 42,
    "number": "PRB0000042",
    "title": "VPN concentrator drops sessions under load",
    "state": "known_error",
    "priority": 2,
    "source": "reactive",
    "service": "vpn",
    "service_name": "VPN",
    "owner": "Paula Problem",
    "root_cause": "Session table exhaustion on the concentrator.",
    "workaround": "Reconnect; the client retries on a second concentrator.",
    "fix": "",
    "fix_reference": "",
    "lessons_learned": "",
    "recurrence_count": 0,
    "url": "https://itsm.example.com/admin/problems/problem/42/change/",
}


def problem_sample(event: str) -> tuple[Subject, dict]:
    """A sample problem with what `event` adds (the article, the workaround, the recurrence...)."""
    problem = dict(PROBLEM)
    context: dict = {"problem": problem, "actor": {"id": 5, "name": "Paula Problem"}}
    kind = event.removeprefix("problem.")
    if kind == "created":
        problem.update(state="new", root_cause="", workaround="", owner="")
    elif kind == "known_error":
        context["known_error"] = 7
    elif kind == "workaround_changed":
        context["workaround"] = problem["workaround"]
    elif kind in ("resolved", "closed", "recurrence"):
        problem.update(
            state="closed" if kind == "closed" else "resolved",
            fix="Session table raised to 64k and idle sessions expire after 30 minutes.",
            fix_reference="CHG0004711",
        )
        if kind == "closed":
            problem["lessons_learned"] = "Alert at 80 % of the concentrator's session table."
        if kind == "resolved":
            context["resolved_incidents"] = [123, 124]
        if kind == "recurrence":
            problem["recurrence_count"] = 1
            context["incidents"] = ["INC0000321"]
            context["recurrence_count"] = 1
            del context["actor"]
    subject = Subject("problem", 42, PROBLEM["number"], PROBLEM["title"], PROBLEM["url"], priority=2)
    return subject, context


def register() -> None:
    """Register everything above (idempotent)."""
    registry.register_event_types(*EVENT_TYPES, labels=EVENT_TYPES, subject_kind="problem")
    registry.register_templates(TEMPLATES, "problem.*")
    registry.register_samples(problem_sample, "problem.*")
    registry.register_default_rules(DEFAULT_RULES)
    for role, grants in ROLE_PERMISSIONS.items():
        for permissions in grants:
            roles.register_permissions(role, permissions)
