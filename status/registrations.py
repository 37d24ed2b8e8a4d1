"""What the status app registers with the apps to its left: role permissions (and, from the
status-page work, event types, templates, samples and cache invalidation hooks)."""

from itsm import roles

_CONFIGURE = {
    "status.statuspagegroup": ["view", "add", "change", "delete"],
    "status.statuspageentry": ["view", "add", "change", "delete"],
    "status.maintenancewindow": ["view", "add", "change"],
    "status.statussubscriber": ["view", "delete"],
}
_READ = {
    "status.statuspagegroup": ["view"],
    "status.statuspageentry": ["view"],
    "status.maintenancewindow": ["view"],
}
# Maintenance windows: administrators and MIMs announce, change and cancel them; every console
# role reads them (status.maintenance.policy decides; these grants match it).
_MAINTENANCE_MANAGE = {"status.maintenancewindow": ["view", "add", "change"]}
_MAINTENANCE_READ = {"status.maintenancewindow": ["view"]}
ROLE_PERMISSIONS: dict[str, list[dict[str, list[str]]]] = {
    roles.ADMINISTRATOR: [_CONFIGURE],
    roles.MAJOR_INCIDENT_MANAGER: [_READ, _MAINTENANCE_MANAGE],
    roles.READ_ONLY: [_READ],
    roles.SERVICE_DESK_AGENT: [_MAINTENANCE_READ],
    roles.RESOLVER: [_MAINTENANCE_READ],
    roles.PROBLEM_MANAGER: [_MAINTENANCE_READ],
}
STATUS_MODELS = sorted(_CONFIGURE)


def register() -> None:
    """Register event types, templates, samples, permissions and signal handlers (idempotent)."""
    from status.maintenance import registrations as maintenance
    from status.page import registrations as page

    page.register()
    maintenance.register()
    for role, grants in ROLE_PERMISSIONS.items():
        for permissions in grants:
            roles.register_permissions(role, permissions)
