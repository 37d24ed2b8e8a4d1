"""Signal wiring of the shared core."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _sync_roles(sender, app_config=None, **kwargs) -> None:
    # Migrations grant what exists when they run; this catches permissions of models whose
    # app migrated later in the same `migrate` run. Idempotent.
    from itsm import roles

    if app_config is None or app_config.label not in roles.app_labels() | {"itsm"}:
        return
    from django.apps import apps

    roles.sync_role_permissions(apps)


@receiver(post_migrate)
def _forget_cached_lookups(sender, app_config=None, **kwargs) -> None:
    # A migrate or a test flush rewrites rows without model signals: start from fresh look-ups.
    from itsm import procache

    procache.bump_all()


def _connect() -> None:
    from itsm.api.authentication import connect_signals

    connect_signals()


_connect()
