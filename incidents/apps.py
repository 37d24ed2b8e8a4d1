from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incidents, SLA clocks, major incidents and alert ingestion."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self) -> None:
        from communications.registry import register_event_types
        from incidents.alerts.services import connect_signals as connect_alert_signals

        # Events this app emits beyond the ones communications ships rules for.
        register_event_types("incident.hold_reminder")
        connect_alert_signals()
