from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    """Outbox, channels, rules, templates and subscriptions. Knows nothing of incidents."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        from . import permissions, registry, signals  # noqa: F401  (registry registers the built-in event types)

        permissions.register()
        signals.connect()
