from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    """Outbox, channels, rules, templates and subscriptions. Knows nothing of the practices that use it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        # The practices register their event types, templates, samples and default rules with
        # `communications.registry` from their own ready().
        # `tasks` registers the Celery tasks that `outbox` publishes by name.
        from . import permissions, signals, tasks  # noqa: F401

        permissions.register()
        signals.connect()
