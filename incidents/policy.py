"""Who may do what to an incident: the one place the admin and the API both ask.

Roles come from `itsm.roles`; this module adds the object-level rules of DOMAIN.md section 9:
agents and resolvers change incidents of their own assignment groups (or unassigned ones),
Major Incident Managers and ITSM Administrators any incident, integrations create and update
but never close or cancel, the caller may confirm (close) their own resolved incident, and
Read Only reads. Every refusal carries a sentence saying why (the API's 403 detail).
"""

from dataclasses import dataclass

from incidents.choices import TERMINAL_STATES
from itsm import roles

GROUP_BOUND_ROLES = (roles.SERVICE_DESK_AGENT, roles.RESOLVER, roles.PROBLEM_MANAGER)
EVERYWHERE_ROLES = (roles.ADMINISTRATOR, roles.MAJOR_INCIDENT_MANAGER)
INTEGRATION_FORBIDDEN = {"close", "cancel"}


@dataclass(frozen=True)
class Decision:
    """An answer with its reason, truthy when allowed."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)

SYSTEM_USERNAME = "system"  # the inactive account automatic actions (auto-close, SLA actions) run as


def is_system(user) -> bool:
    """The automation account: it cannot log in (inactive), and the product's own jobs act as it."""
    return (
        getattr(user, "username", None) == SYSTEM_USERNAME
        and not getattr(user, "is_active", True)
        and bool(getattr(user, "pk", None))
    )


def can_view(user, incident=None) -> Decision:
    """Every authenticated user with a role (or staff) reads incidents."""
    if not getattr(user, "is_authenticated", False):
        return Decision(False, "Authentication required.")
    return ALLOW


def can_create(user) -> Decision:
    if getattr(user, "is_superuser", False):
        return ALLOW
    if roles.has_role(user, *GROUP_BOUND_ROLES, *EVERYWHERE_ROLES, roles.INTEGRATION):
        return ALLOW
    return Decision(False, "Your role may read incidents but not open them.")


def can_change(user, incident) -> Decision:
    """May `user` update fields, comment, assign or run transitions on `incident` at all?"""
    if is_system(user):
        return ALLOW
    if getattr(user, "is_superuser", False) or roles.has_role(user, *EVERYWHERE_ROLES, roles.INTEGRATION):
        return ALLOW
    if roles.has_role(user, *GROUP_BOUND_ROLES):
        if incident.assignment_group_id is None or incident.assignment_group_id in roles.group_ids(user):
            return ALLOW
        return Decision(
            False,
            "You may only change incidents of your own assignment groups or unassigned ones; "
            f"{incident.number} belongs to another group.",
        )
    return Decision(False, "Your role may read incidents but not change them.")


def can_update(user, incident) -> Decision:
    """May `user` edit `incident`'s fields now? Closed and cancelled incidents are frozen for
    everyone (as `services.update_incident` enforces); otherwise `can_change` decides."""
    if incident.state in TERMINAL_STATES:
        return Decision(
            False, f"{incident.number} is {incident.state}; closed and cancelled incidents cannot be changed."
        )
    return can_change(user, incident)


def can_transition(user, incident, name: str) -> Decision:
    """May `user` run transition `name` on `incident` (the state check is django-fsm's)?"""
    if (
        roles.has_role(user, roles.INTEGRATION)
        and name in INTEGRATION_FORBIDDEN
        and not (getattr(user, "is_superuser", False) or roles.has_role(user, *EVERYWHERE_ROLES, *GROUP_BOUND_ROLES))
    ):
        return Decision(False, f"Integrations may not {name} incidents.")
    if name == "close" and incident.caller_id is not None and incident.caller_id == getattr(user, "pk", None):
        return ALLOW  # the caller confirms the resolution
    return can_change(user, incident)


def acts_as_person(user) -> bool:
    """False for accounts that are only an integration (monitoring, mail gateway): they never
    become the assignee of what they start."""
    if getattr(user, "is_superuser", False):
        return True
    return not roles.has_role(user, roles.INTEGRATION) or roles.has_role(user, *GROUP_BOUND_ROLES, *EVERYWHERE_ROLES)


def transition_permission(name: str):
    """A django-fsm `permission=` callable for transition `name`."""

    def check(instance, user) -> bool:
        return bool(can_transition(user, instance, name))

    check.__name__ = f"may_{name}"
    return check
