"""What maintenance registers with the apps to its left.

With `communications`: the event types `maintenance.announced`, `.started`, `.completed` and
`.cancelled` (subject kind `maintenance`), their shipped templates
(`status/templates/status/maintenance/notifications/`) and a sample window for previews. With
`incidents.sla.pauses`: the SLA pause source (windows with `pause_sla`). Writes of a window by
any path (ORM included) bump the pause cache.

Sample context (what callers of `emit()` hand and templates read): `maintenance` {id, number,
title, description, state, services (slugs), service_names, starts_at, ends_at, started_at,
completed_at, cancelled_at}; cancelled adds `reason`. Every maintenance event is public.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from communications import registry
from communications.subject import Subject
from incidents.sla.pauses import register_pause_source

EVENT_TYPES: dict[str, str] = {
    "maintenance.announced": "Maintenance announced",
    "maintenance.started": "Maintenance started",
    "maintenance.completed": "Maintenance completed",
    "maintenance.cancelled": "Maintenance cancelled",
}
TEMPLATES = "status/maintenance/notifications"
SAMPLE = {
    "id": 12,
    "number": "MNT0000012",
    "title": "Payroll database upgrade",
    "description": "Payroll is read-only while the database moves to new hardware.",
    "state": "scheduled",
    "services": ["payroll"],
    "service_names": ["Payroll"],
    "starts_at": "2026-12-12T20:00:00+00:00",
    "ends_at": "2026-12-12T22:00:00+00:00",
    "started_at": None,
    "completed_at": None,
    "cancelled_at": None,
}


def maintenance_sample(event: str) -> tuple[Subject, dict]:
    """A sample window as `event` finds it."""
    subject = Subject(
        "maintenance",
        12,
        "MNT0000012",
        SAMPLE["title"],
        "https://itsm.example.com/admin/status/maintenancewindow/12/change/",
    )
    window = dict(SAMPLE)
    context: dict = {"maintenance": window}
    kind = event.removeprefix("maintenance.")
    if kind in ("started", "completed"):
        window.update(state="in_progress", started_at=window["starts_at"])
    if kind == "completed":
        window.update(state="completed", completed_at=window["ends_at"])
    if kind == "cancelled":
        window.update(state="cancelled", cancelled_at="2026-12-11T09:00:00+00:00")
        context["reason"] = "Postponed: the new hardware has not arrived."
    return subject, context


def _changed(sender, **kwargs) -> None:
    from . import pauses

    pauses.CACHE.changed()


def register() -> None:
    """Register everything above (idempotent)."""
    from status.models import MaintenanceWindow

    from .pauses import maintenance_pauses

    registry.register_event_types(*EVENT_TYPES, labels=EVENT_TYPES, subject_kind="maintenance")
    registry.register_templates(TEMPLATES, "maintenance.*")
    registry.register_samples(maintenance_sample, "maintenance.*")
    register_pause_source(maintenance_pauses)
    post_save.connect(_changed, sender=MaintenanceWindow, dispatch_uid="maintenance-pauses-save")
    post_delete.connect(_changed, sender=MaintenanceWindow, dispatch_uid="maintenance-pauses-delete")
    m2m_changed.connect(_changed, sender=MaintenanceWindow.services.through, dispatch_uid="maintenance-pauses-m2m")
