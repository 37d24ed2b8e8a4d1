from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incidents, SLA clocks, major incidents and alert ingestion."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self) -> None:
        from incidents import registrations, subscribers
        from incidents.alerts.services import connect_signals as connect_alert_signals
        from itsm import configcache, events

        # Event types, templates, samples and default rules with communications; role
        # permissions on this app's models with itsm.roles.
        registrations.register()
        # Creation notifications are sent by a worker from the create's domain event.
        events.subscribe(subscribers.OPENED, subscribers.send_opened_notifications)
        # SLA policies, calendars and the priority matrix are cached per process (creates and
        # lists read them); this app is their reader, so it wires their invalidation.
        configcache.connect()
        connect_alert_signals()
