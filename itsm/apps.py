from django.apps import AppConfig


class ItsmConfig(AppConfig):
    """Shared configuration: services, categories, groups, priority matrix, calendars, SLA policies."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from . import pgtypes, signals  # noqa: F401

        pgtypes.install()
