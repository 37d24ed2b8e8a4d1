from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """Metrics, the report API, the report pages and the console's dashboard.

    It reads every practice and nothing imports it: the reports register themselves here.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "reporting"

    def ready(self) -> None:
        from reporting import catalogue

        catalogue.register_all()
