from django.apps import AppConfig


class StatusConfig(AppConfig):
    """The public status page, its feed, public subscribers and scheduled maintenance."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "status"

    def ready(self) -> None:
        from status import registrations

        # Event types, templates and samples with communications; cache invalidation hooks.
        registrations.register()
