"""Role permissions on this app's models, granted by this app's data migration.

`itsm.roles` stays the one place that decides: `register()` registers this mapping with
`itsm.roles.register_permissions` (at app start and in the migration), and the migration grants
it with `itsm.roles.sync_role_permissions`.
"""

from itsm import roles

RULE = "communications.notificationrule"
TEMPLATE = "communications.notificationtemplate"
ENDPOINT = "communications.webhookendpoint"
SUBSCRIPTION = "communications.subscription"
NOTIFICATION = "communications.notification"
ATTEMPT = "communications.deliveryattempt"
MODELS = [RULE, TEMPLATE, ENDPOINT, SUBSCRIPTION, NOTIFICATION, ATTEMPT]

FULL = ["view", "add", "change", "delete"]
VIEW = ["view"]

ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    # "change" on notifications is what "retry now" needs; the log itself is never edited.
    roles.ADMINISTRATOR: {
        RULE: FULL,
        TEMPLATE: FULL,
        ENDPOINT: FULL,
        SUBSCRIPTION: FULL,
        NOTIFICATION: ["view", "change"],
        ATTEMPT: VIEW,
    },
    roles.INTEGRATION: {ENDPOINT: FULL, NOTIFICATION: VIEW, ATTEMPT: VIEW},
    # Every other role reads the configuration and the log.
    **{
        role: {model: VIEW for model in MODELS}
        for role in roles.ALL_ROLES
        if role not in (roles.ADMINISTRATOR, roles.INTEGRATION)
    },
}


def register() -> None:
    """Register ROLE_PERMISSIONS with itsm.roles (idempotent)."""
    for role, models in ROLE_PERMISSIONS.items():
        roles.register_permissions(role, models)


def grant(apps, schema_editor=None) -> None:
    """Data migration step: grant this app's model permissions to the role groups."""
    register()
    roles.sync_role_permissions(apps, schema_editor, models=MODELS)
