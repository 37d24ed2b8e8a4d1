"""Who may do what to a problem: the one place the console and the API both ask.

DOMAIN.md section 9: Problem Managers (and ITSM Administrators) own problems and run their
transitions; service desk agents, resolvers and Major Incident Managers create problems, edit
their investigation fields and link incidents; integrations create and link; Read Only reads.
The owner named on a problem may run its transitions whatever their role. Every refusal says why.
"""

from incidents.policy import ALLOW, Decision, is_system
from itsm import roles

MANAGING_ROLES = (roles.PROBLEM_MANAGER, roles.ADMINISTRATOR)
WORKING_ROLES = (
    roles.SERVICE_DESK_AGENT,
    roles.RESOLVER,
    roles.MAJOR_INCIDENT_MANAGER,
    roles.PROBLEM_MANAGER,
    roles.ADMINISTRATOR,
)


def is_manager(user) -> bool:
    """A Problem Manager (or an administrator, a superuser, the system account)."""
    return is_system(user) or bool(getattr(user, "is_superuser", False)) or roles.has_role(user, *MANAGING_ROLES)


def is_owner(user, problem) -> bool:
    uid = getattr(user, "pk", None)
    return uid is not None and problem is not None and problem.owner_id == uid


def can_view(user, problem=None) -> Decision:
    """Every authenticated user reads problems and the known error database."""
    if not getattr(user, "is_authenticated", False):
        return Decision(False, "Authentication required.")
    return ALLOW


def can_create(user) -> Decision:
    """Agents, resolvers, managers, administrators and integrations open problems."""
    if is_manager(user) or roles.has_role(user, *WORKING_ROLES, roles.INTEGRATION):
        return ALLOW
    return Decision(False, "Your role may read problems but not open them.")


def can_change(user, problem) -> Decision:
    """Who edits a problem's fields and links incidents: whoever may open one, and its owner."""
    if can_create(user) or is_owner(user, problem):
        return ALLOW
    return Decision(False, f"Your role may read {problem.number} but not change it.")


def can_transition(user, problem, name: str) -> Decision:
    """Problem Managers and the problem's owner run its transitions (the state check is django-fsm's)."""
    if is_manager(user) or is_owner(user, problem):
        return ALLOW
    return Decision(False, f"Only Problem Managers (or its owner) may {name.replace('_', ' ')} {problem.number}.")


def can_own(user) -> Decision:
    """Problem owners are Problem Managers (or administrators)."""
    if getattr(user, "is_active", False) and (
        getattr(user, "is_superuser", False) or roles.has_role(user, *MANAGING_ROLES)
    ):
        return ALLOW
    return Decision(False, "The owner must be an active Problem Manager.")


def transition_permission(name: str):
    """A django-fsm `permission=` callable for transition `name`."""

    def check(instance, user) -> bool:
        return bool(can_transition(user, instance, name))

    check.__name__ = f"may_{name}"
    return check
