from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incidents, SLA clocks, major incidents and alert ingestion."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"
