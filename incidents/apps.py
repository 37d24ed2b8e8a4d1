from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incidents, SLA clocks, major incidents and alert ingestion."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self) -> None:
        from incidents import registrations
        from incidents.alerts.services import connect_signals as connect_alert_signals

        # Event types, templates, samples and default rules with communications; role
        # permissions on this app's models with itsm.roles.
        registrations.register()
        connect_alert_signals()
        # Trigger rules: evaluated after commit, from the domain event the incident use cases publish.
        from incidents.response import trigger_check, triggers
        from itsm import events as domain_events

        trigger_check.connect()
        domain_events.subscribe(trigger_check.EVENT_NAME, triggers.handle)
