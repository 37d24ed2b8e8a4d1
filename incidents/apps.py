from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incidents, SLA clocks, major incidents and alert ingestion."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self) -> None:
        from communications.registry import register_event_types
        from incidents.alerts.services import connect_signals as connect_alert_signals
        from itsm import configcache

        # Events this app emits beyond the ones communications ships rules for.
        register_event_types("incident.hold_reminder")
        # SLA policies, calendars and the priority matrix are cached per process (creates and
        # lists read them); this app is their reader, so it wires their invalidation.
        configcache.connect()
        connect_alert_signals()
