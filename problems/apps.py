from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    """Problems, the known error database and trend detection."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "problems"
