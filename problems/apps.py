from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    """Problems, the known error database and trend detection."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "problems"

    def ready(self) -> None:
        from django_fsm.signals import post_transition

        from problems import handoff, registrations, worktask_records
        from problems.kedb import uses

        # Event types, templates, samples, default rules and role permissions.
        registrations.register()
        # Deflections: an incident resolved with an applied workaround (incidents know nothing of it).
        post_transition.connect(uses.track_deflections, dispatch_uid="problems.track_deflections")
        # The major incident hand-off (`major_incident.closed`) and tasks on problems.
        handoff.connect()
        worktask_records.register()
