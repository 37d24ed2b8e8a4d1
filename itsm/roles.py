"""The one module that decides what each role may do. The admin and the API both ask it.

Roles are Django groups with exactly these names. Model permissions per role are declared here
for the core's models and registered by each practice for its own (`register_permissions`), and
written by data migrations and after `migrate` (`sync_role_permissions`), so a fresh database and
an upgraded one end up identical. Object-level rules (an agent changes the records of their own
groups) live with each practice and call the helpers below.
"""

from collections.abc import Iterable, Mapping

SERVICE_DESK_AGENT = "Service Desk Agent"
RESOLVER = "Resolver"
MAJOR_INCIDENT_MANAGER = "Major Incident Manager"
PROBLEM_MANAGER = "Problem Manager"
ADMINISTRATOR = "ITSM Administrator"
INTEGRATION = "Integration"
READ_ONLY = "Read Only"

ALL_ROLES = [
    SERVICE_DESK_AGENT,
    RESOLVER,
    MAJOR_INCIDENT_MANAGER,
    PROBLEM_MANAGER,
    ADMINISTRATOR,
    INTEGRATION,
    READ_ONLY,
]

CONFIG_MODELS = [
    "itsm.service",
    "itsm.category",
    "itsm.assignmentgroup",
    "itsm.prioritymatrixentry",
    "itsm.businesscalendar",
    "itsm.workingperiod",
    "itsm.holiday",
    "itsm.slapolicy",
]

ACTIONS = ["view", "add", "change", "delete"]

# role -> {"app_label.model": [actions]} ; actions are Django's view/add/change/delete.
# The core's own models are declared here; every practice adds its models with
# `register_permissions()` from its `AppConfig.ready()`, and its data migration (or the
# post_migrate sync) grants them with `sync_role_permissions`.
ROLE_MODEL_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    ADMINISTRATOR: {m: list(ACTIONS) for m in CONFIG_MODELS}
    | {
        "auth.user": ["view", "add", "change"],
        "auth.group": ["view"],
        "authtoken.token": ["view", "add", "delete"],
    },
    SERVICE_DESK_AGENT: {m: ["view"] for m in CONFIG_MODELS} | {"auth.user": ["view"]},
    RESOLVER: {m: ["view"] for m in CONFIG_MODELS} | {"auth.user": ["view"]},
    MAJOR_INCIDENT_MANAGER: {m: ["view"] for m in CONFIG_MODELS} | {"auth.user": ["view"]},
    PROBLEM_MANAGER: {m: ["view"] for m in CONFIG_MODELS} | {"auth.user": ["view"]},
    INTEGRATION: {m: ["view"] for m in CONFIG_MODELS},
    READ_ONLY: {m: ["view"] for m in CONFIG_MODELS} | {"auth.user": ["view"]},
}


def register_permissions(role: str, permissions: Mapping[str, Iterable[str]]) -> None:
    """Grant `role` these model permissions (`{"app_label.model": ["view", ...]}`), on top of
    what it has (idempotent). Call from `AppConfig.ready()` of the app that owns the models."""
    if role not in ALL_ROLES:
        raise ValueError(f"Unknown role {role!r}; roles are: {', '.join(ALL_ROLES)}.")
    entry = ROLE_MODEL_PERMISSIONS.setdefault(role, {})
    for label, actions in permissions.items():
        actions = set(actions)
        if not actions <= set(ACTIONS) or label.count(".") != 1:
            raise ValueError(f"Invalid permission {label!r}: {sorted(actions)}.")
        entry[label] = sorted(set(entry.get(label, [])) | actions, key=ACTIONS.index)


def app_labels() -> set[str]:
    """The apps whose models some role has permissions on."""
    return {label.split(".", 1)[0] for models in ROLE_MODEL_PERMISSIONS.values() for label in models}


def sync_role_permissions(apps, schema_editor=None, models: Iterable[str] | None = None) -> None:
    """Create the role groups and grant them ROLE_MODEL_PERMISSIONS (only for `models` if given).

    Safe to run repeatedly; usable from migrations (pass the historical `apps`). Permissions and
    content types are created on the spot because Django only makes them after migrate finishes.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    wanted = set(models) if models is not None else None
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        for label, actions in ROLE_MODEL_PERMISSIONS.get(role, {}).items():
            if wanted is not None and label not in wanted:
                continue
            app_label, model_name = label.split(".")
            try:
                model = apps.get_model(app_label, model_name)
            except LookupError:
                continue  # that app's migration grants it once the model exists
            ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model_name)
            for action in actions:
                perm, _ = Permission.objects.get_or_create(
                    content_type=ct,
                    codename=f"{action}_{model_name}",
                    defaults={"name": f"Can {action} {model._meta.verbose_name}"},
                )
                group.permissions.add(perm)


def role_names(user) -> set[str]:
    """The role group names of a user (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_itsm_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        user._itsm_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True if the user holds any of `roles`; superusers hold every role."""
    if getattr(user, "is_superuser", False):
        return True
    return bool(role_names(user) & set(roles))


def can_configure(user) -> bool:
    """Administrators change services, categories, groups, matrix, calendars and SLA policies."""
    return has_role(user, ADMINISTRATOR)


def group_ids(user) -> set[int]:
    """Ids of the assignment groups the user is a member of (cached for the request)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_itsm_group_ids", None)
    if cached is None:
        cached = set(user.assignment_groups.values_list("id", flat=True))
        user._itsm_group_ids = cached
    return cached
