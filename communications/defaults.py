"""Installing the default notification rules the practices register.

`registry.register_default_rules()` declares them; after every `migrate` (not after a test
flush) `install_default_rules()` creates each one that was never installed before, and records
it in `InstalledDefaultRule`: administrators change, deactivate or delete a default rule, and a
deleted one is not brought back by the next upgrade.
"""

from django.apps import apps as global_apps

from . import registry


def install_default_rules(apps=global_apps, using: str = "default") -> list[str]:
    """Create the registered default rules not installed yet; returns the names created."""
    Rule = apps.get_model("communications", "NotificationRule")
    Installed = apps.get_model("communications", "InstalledDefaultRule")
    wanted = registry.default_rules()
    done = set(Installed.objects.using(using).filter(name__in=list(wanted)).values_list("name", flat=True))
    created = []
    for name, fields in wanted.items():
        if name in done:
            continue
        _, made = Rule.objects.using(using).get_or_create(name=name, defaults={"channel": "email", **fields})
        Installed.objects.using(using).create(name=name)
        if made:
            created.append(name)
    return created


def installed_after_migrate(sender, app_config=None, plan=None, apps=global_apps, using="default", **kwargs) -> None:
    """post_migrate: install new defaults once communications' tables exist. A flush (tests)
    sends post_migrate without a plan: the defaults are not re-created there."""
    if plan is None or app_config is None or app_config.label != "communications":
        return
    try:
        apps.get_model("communications", "InstalledDefaultRule")
    except LookupError:  # migrated back to before the table existed
        return
    install_default_rules(apps, using)
