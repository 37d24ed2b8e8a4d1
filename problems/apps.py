from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    """Problems, the known error database and trend detection."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "problems"

    def ready(self) -> None:
        from problems import registrations

        # Event types, templates, samples and default rules with communications.
        registrations.register()
