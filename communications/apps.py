from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    """Outbox, channels, rules, templates and subscriptions. Knows nothing of incidents."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "communications"
