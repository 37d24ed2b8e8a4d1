"""Hand maintenance events to the communications app (which knows nothing of maintenance).

A window is a `Subject` of kind `maintenance` with its services as `service_ids`, so the
subscribers of those services (public status subscribers included) are reached; every
maintenance event is public. The context carries only what outsiders may read.
"""

from __future__ import annotations

from django.conf import settings

from communications.services import Emission, Subject, emit_many

from .pauses import number

SUBJECT_KIND = "maintenance"


def window_url(window) -> str:
    """Where readers of a maintenance message go: the public status page (the messages are public)."""
    return settings.ITSM_SITE_URL.rstrip("/") + "/status/"


def subject_for(window, services: list) -> Subject:
    """The window as communications sees it."""
    return Subject(
        kind=SUBJECT_KIND,
        id=window.pk,
        number=number(window),
        title=window.title,
        url=window_url(window),
        service_ids=tuple(s.pk for s in services),
    )


def window_context(window, services: list) -> dict:
    """What templates and webhook receivers get (public: no people, no SLA settings)."""
    return {
        "id": window.pk,
        "number": number(window),
        "title": window.title,
        "description": window.description,
        "state": window.state,
        "services": [s.slug for s in services],
        "service_names": [s.name for s in services],
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "started_at": window.started_at.isoformat() if window.started_at else None,
        "completed_at": window.completed_at.isoformat() if window.completed_at else None,
        "cancelled_at": window.cancelled_at.isoformat() if window.cancelled_at else None,
    }


def emit(window, event_type: str, actor=None, *, occurred_at=None, extra: dict | None = None) -> list:
    """Queue the notifications of one maintenance event in the caller's transaction (public).

    `occurred_at` is the moment of the event (announced, started...), so a repeat writes nothing.
    """
    services = sorted(window.services.all(), key=lambda s: s.slug)
    context = {"maintenance": window_context(window, services), **(extra or {})}
    emission = Emission(
        event_type=event_type,
        subject=subject_for(window, services),
        context=context,
        actor=actor if getattr(actor, "pk", None) else None,
        public=True,
        occurred_at=occurred_at,
    )
    return emit_many([emission])[0]
