from rest_framework import permissions

from itsm import roles


def method_not_routed(view) -> bool:
    """A viewset method with no action: let DRF answer 405 instead of a misleading 403."""
    return hasattr(view, "action_map") and getattr(view, "action", None) is None


class IsAuthenticatedReadOrAdministrator(permissions.BasePermission):
    """Every authenticated user reads; only `ITSM Administrator` writes (configuration resources)."""

    message = "Only ITSM Administrators may change configuration."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or method_not_routed(view):
            return True
        return roles.can_configure(request.user)
