"""Who uses the response plan and trigger rule endpoints: Major Incident Managers (and
administrators) read; only ITSM Administrators write."""

from rest_framework import permissions

from incidents.major import policy
from itsm import roles
from itsm.api.permissions import method_not_routed


class ManagersReadAdministratorsWrite(permissions.BasePermission):
    """GET for Major Incident Managers and administrators; POST/PATCH for administrators."""

    message = "Only Major Incident Managers read, and only ITSM Administrators change, plans and trigger rules."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if method_not_routed(view):
            return True
        if request.method in permissions.SAFE_METHODS:
            return policy.is_manager(user) or roles.can_configure(user)
        return roles.can_configure(user)
