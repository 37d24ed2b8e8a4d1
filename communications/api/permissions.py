"""Who may use the communications API (the rules themselves live in itsm.roles)."""

from rest_framework import permissions

from itsm import roles
from itsm.api.permissions import method_not_routed


class ManagesWebhooks(permissions.BasePermission):
    """Administrators and the Integration role manage outbound endpoints (reading included:
    URLs of chat webhooks are secrets in themselves)."""

    message = "Only ITSM Administrators and integrations manage webhook endpoints."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return method_not_routed(view) or roles.has_role(request.user, roles.ADMINISTRATOR, roles.INTEGRATION)


class RetriesNotifications(permissions.BasePermission):
    """Every authenticated user reads the log (filtered to what they may see); retrying is for
    administrators and, for their own endpoints' deliveries, integrations."""

    message = "Only ITSM Administrators and integrations retry deliveries."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or method_not_routed(view):
            return True
        return roles.has_role(request.user, roles.ADMINISTRATOR, roles.INTEGRATION)
