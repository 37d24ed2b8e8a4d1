"""Status page registrations: the confirmation email's event type, templates and sample, and the
signal handlers that invalidate the cached page and feed after commit.

The page shows major incidents (state, public, level, title, affected services, external
updates), services and their status entries and groups, and maintenance windows; a change to
any of them invalidates the cache once the transaction commits. Maintenance use cases also call
`status.page.cache.invalidate()` themselves (plain UPDATEs send no signal).
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from communications import registry
from communications.subject import Subject
from status.page import cache
from status.page.subscriptions import CONFIRM_EVENT

EVENT_TYPES = {CONFIRM_EVENT: "Status page subscription: confirm your address"}
TEMPLATES = "status/notifications"
# Major incident fields the page shows; a save naming none of them (a sweep's bookkeeping) is ignored.
PAGE_FIELDS = {
    "state",
    "public",
    "status_level",
    "title",
    "impact_started_at",
    "declared_at",
    "resolved_at",
    "next_update_due_at",
}
DISPATCH = "status.page."


def confirmation_sample(event: str) -> tuple[Subject, dict]:
    """A sample confirmation email (template previews)."""
    url = "https://itsm.example.com/status/confirm/sample-token/"
    subject = Subject("status_subscriber", 3, "Status page", "Confirm your subscription", url)
    return subject, {
        "confirm_url": url,
        "valid_days": 3,
        "all_services": False,
        "services": ["Payroll", "Email"],
        "status_url": "https://itsm.example.com/status/",
    }


def _changed(sender, instance=None, update_fields=None, **kwargs) -> None:
    cache.invalidate_on_commit()


def _major_incident_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not (set(update_fields) & PAGE_FIELDS):
        return
    if instance.state == "proposed" and update_fields is not None and "state" not in update_fields:
        return
    cache.invalidate_on_commit()


def _update_saved(sender, instance, created=False, **kwargs) -> None:
    if instance.audience == "external":
        cache.invalidate_on_commit()


def _incident_saved(sender, instance, update_fields=None, **kwargs) -> None:
    """The priority of a major incident's primary incident sets its default level."""
    if instance.major_incident_id and (update_fields is None or "priority" in update_fields):
        cache.invalidate_on_commit()


def connect_signals() -> None:
    """Hook every model the page reads (idempotent: fixed dispatch uids)."""
    from incidents.major.models import MajorIncident, StakeholderUpdate
    from incidents.models import Incident
    from itsm.models import Service
    from status.models import MaintenanceWindow, StatusPageEntry, StatusPageGroup

    post_save.connect(_major_incident_saved, sender=MajorIncident, dispatch_uid=DISPATCH + "mi")
    post_delete.connect(_changed, sender=MajorIncident, dispatch_uid=DISPATCH + "mi-delete")
    m2m_changed.connect(_changed, sender=MajorIncident.affected_services.through, dispatch_uid=DISPATCH + "mi-services")
    post_save.connect(_update_saved, sender=StakeholderUpdate, dispatch_uid=DISPATCH + "update")
    post_save.connect(_incident_saved, sender=Incident, dispatch_uid=DISPATCH + "incident")
    for model in (Service, StatusPageGroup, StatusPageEntry, MaintenanceWindow):
        name = model._meta.label_lower
        post_save.connect(_changed, sender=model, dispatch_uid=f"{DISPATCH}{name}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{DISPATCH}{name}-delete")
    m2m_changed.connect(
        _changed, sender=MaintenanceWindow.services.through, dispatch_uid=DISPATCH + "maintenance-services"
    )


def register() -> None:
    """Register the event type, its templates and sample, and the cache hooks (idempotent)."""
    registry.register_event_types(*EVENT_TYPES, labels=EVENT_TYPES, subject_kind="status_subscriber")
    registry.register_templates(TEMPLATES, "status.*")
    registry.register_samples(confirmation_sample, "status.*")
    connect_signals()
