"""What the problem practice registers with communications: its event types, their shipped
templates (`problems/templates/problems/notifications/`), a sample problem for template
previews and its default rule. Called once from `ProblemsConfig.ready()`.

Sample context: `problem` {number, title, state, root_cause, workaround, fix}; every event:
`actor` {id, name} when a person caused it.
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
DEFAULT_RULES: dict[str, dict] = {
    "Problem: known error and resolution to the group": {
        "events": ["problem.known_error", "problem.resolved"],
        "recipients": ["group", "watchers"],
    },
}
PROBLEM = {
    "number": "PRB0000042",
    "title": "VPN concentrator drops sessions under load",
    "state": "known_error",
    "root_cause": "Session table exhaustion on the concentrator.",
    "workaround": "Reconnect; the client retries on a second concentrator.",
    "fix": "",
}


def problem_sample(event: str) -> tuple[Subject, dict]:
    """A sample problem (known error) for template previews."""
    url = "https://itsm.example.com/admin/problem/42/"
    return Subject("problem", 42, "PRB0000042", PROBLEM["title"], url, priority=3), {"problem": dict(PROBLEM)}


def register() -> None:
    """Register everything above (idempotent)."""
    registry.register_event_types(*EVENT_TYPES, labels=EVENT_TYPES, subject_kind="problem")
    registry.register_templates(TEMPLATES, "problem.*")
    registry.register_samples(problem_sample, "problem.*")
    registry.register_default_rules(DEFAULT_RULES)
    for role, grants in ROLE_PERMISSIONS.items():
        for permissions in grants:
            roles.register_permissions(role, permissions)
