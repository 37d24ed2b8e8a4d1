"""Invalidate the cached emit() configuration (`snapshot`) when it changes; install the
registered default rules after `migrate`."""

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from . import defaults, snapshot
from .models import NotificationRule, NotificationTemplate, WebhookEndpoint


def _changed(sender, **kwargs) -> None:
    snapshot.changed()


def _migrated(sender, **kwargs) -> None:
    snapshot.bump()  # migrate / flush (tests) may have rewritten the tables without signals


def connect() -> None:
    for model in (NotificationRule, NotificationTemplate, WebhookEndpoint):
        post_save.connect(_changed, sender=model, dispatch_uid=f"communications-snapshot-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"communications-snapshot-delete-{model.__name__}")
    for name in ("users", "endpoints", "services", "groups"):
        through = getattr(NotificationRule, name).through
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"communications-snapshot-m2m-{name}")
    # Deleting a service, group or user removes its rows from the rules' m2m without m2m_changed.
    for label in ("itsm.Service", "itsm.AssignmentGroup", settings.AUTH_USER_MODEL):
        post_delete.connect(_changed, sender=label, dispatch_uid=f"communications-snapshot-delete-{label}")
    post_migrate.connect(_migrated, dispatch_uid="communications-snapshot-migrate")
    post_migrate.connect(defaults.installed_after_migrate, dispatch_uid="communications-default-rules")
