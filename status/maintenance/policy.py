"""Who may do what to maintenance windows: the one place the console and the API both ask.

Administrators and Major Incident Managers announce, change and cancel windows; everyone with a
console role (every role but the API-only Integration, and staff) reads them. Every refusal
says why.
"""

from incidents.policy import ALLOW, Decision, is_system
from itsm import roles

MANAGING_ROLES = (roles.ADMINISTRATOR, roles.MAJOR_INCIDENT_MANAGER)
READING_ROLES = tuple(r for r in roles.ALL_ROLES if r != roles.INTEGRATION)


def can_view(user) -> Decision:
    """Every console role reads maintenance windows."""
    if not getattr(user, "is_authenticated", False):
        return Decision(False, "Authentication required.")
    if getattr(user, "is_superuser", False) or getattr(user, "is_staff", False) or roles.has_role(user, *READING_ROLES):
        return ALLOW
    return Decision(False, "Your role may not read maintenance windows.")


def can_manage(user) -> Decision:
    """Announce, change and cancel windows: administrators and Major Incident Managers."""
    if is_system(user) or getattr(user, "is_superuser", False) or roles.has_role(user, *MANAGING_ROLES):
        return ALLOW
    return Decision(False, "Only ITSM Administrators and Major Incident Managers manage maintenance windows.")
