"""Who may do what to a major incident: the one place the console and the API both ask.

DOMAIN.md section 9: only Major Incident Managers (and ITSM Administrators) declare, reject and
run major incidents; any agent or resolver may propose one. The people named on the record take
part in running it: the manager runs its transitions after declaration, the communications lead
and the manager post stakeholder updates, the three leads edit the review, a responder
acknowledges their own page, an action item's owner marks it done. Every refusal says why.
"""

from incidents.policy import ALLOW, Decision, is_system
from itsm import roles

MANAGING_ROLES = (roles.MAJOR_INCIDENT_MANAGER, roles.ADMINISTRATOR)
PROPOSING_ROLES = (
    roles.SERVICE_DESK_AGENT,
    roles.RESOLVER,
    roles.PROBLEM_MANAGER,
    roles.MAJOR_INCIDENT_MANAGER,
    roles.ADMINISTRATOR,
)
# Transitions a manager named on the record may run without the role (after someone declared).
RECORD_MANAGER_TRANSITIONS = {"resolve", "start_review", "close"}


def _uid(user) -> int | None:
    return getattr(user, "pk", None)


def is_manager(user) -> bool:
    """A Major Incident Manager (or an administrator, a superuser, the system account)."""
    return is_system(user) or bool(getattr(user, "is_superuser", False)) or roles.has_role(user, *MANAGING_ROLES)


def _on_record(user, mi, *fields: str) -> bool:
    uid = _uid(user)
    return uid is not None and any(getattr(mi, f"{name}_id") == uid for name in fields)


def can_view(user, mi=None) -> Decision:
    """Every authenticated user reads major incidents (the status page shows the public part)."""
    if not getattr(user, "is_authenticated", False):
        return Decision(False, "Authentication required.")
    return ALLOW


def can_propose(user) -> Decision:
    """Agents, resolvers, problem managers, MIMs and administrators propose major incidents (and
    the system account, for trigger rules)."""
    if is_system(user) or getattr(user, "is_superuser", False) or roles.has_role(user, *PROPOSING_ROLES):
        return ALLOW
    return Decision(False, "Your role may not propose major incidents.")


def can_declare(user) -> Decision:
    """Declaring (directly or by accepting a proposal) is for Major Incident Managers."""
    if is_manager(user):
        return ALLOW
    return Decision(False, "Only Major Incident Managers declare major incidents.")


def can_run(user, mi) -> Decision:
    """May `user` change the record (roles, bridge, cadence, responders, links)?"""
    if is_manager(user) or _on_record(user, mi, "manager", "comms_lead", "tech_lead"):
        return ALLOW
    return Decision(False, f"Only Major Incident Managers and the leads of {mi.number} may change it.")


def can_transition(user, mi, name: str) -> Decision:
    """May `user` run transition `name` on `mi` (the state check is django-fsm's)?"""
    if is_manager(user):
        return ALLOW
    if name in RECORD_MANAGER_TRANSITIONS and _on_record(user, mi, "manager"):
        return ALLOW
    return Decision(False, f"Only Major Incident Managers may {name.replace('_', ' ')} {mi.number}.")


def can_post_update(user, mi) -> Decision:
    """Stakeholder updates come from the communications lead, the manager or a MIM."""
    if is_manager(user) or _on_record(user, mi, "manager", "comms_lead"):
        return ALLOW
    return Decision(False, f"Only the communications lead, the manager or a MIM post updates on {mi.number}.")


def can_acknowledge(user, responder) -> Decision:
    """A responder acknowledges their own page; a MIM may record it for them."""
    if _uid(user) is not None and responder.user_id == _uid(user):
        return ALLOW
    if is_manager(user) or _on_record(user, responder.major_incident, "manager"):
        return ALLOW
    return Decision(False, "Only the paged responder (or a Major Incident Manager) acknowledges this page.")


def can_edit_review(user, mi) -> Decision:
    """The review is written by the MIMs and the leads named on the record."""
    if is_manager(user) or _on_record(user, mi, "manager", "comms_lead", "tech_lead"):
        return ALLOW
    return Decision(False, f"Only Major Incident Managers and the leads of {mi.number} edit its review.")


def can_update_action_item(user, item) -> Decision:
    """Whoever edits the review, and the item's owner (to report progress or mark it done)."""
    if item.owner_id is not None and item.owner_id == _uid(user):
        return ALLOW
    return can_edit_review(user, item.review.major_incident)


def transition_permission(name: str):
    """A django-fsm `permission=` callable for transition `name`."""

    def check(instance, user) -> bool:
        if name in ("declare", "reject"):
            return bool(can_declare(user))
        return bool(can_transition(user, instance, name))

    check.__name__ = f"may_{name}"
    return check
