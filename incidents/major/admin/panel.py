"""The incident page's "Major incident" panel: the major incident an incident belongs to, and its
latest external update (what the service desk tells callers who ring about it)."""

from __future__ import annotations

from django.urls import reverse

from incidents.major.choices import Audience
from incidents.major.models import StakeholderUpdate
from incidents.models import Incident
from incidents.narration import person

from .display import MI_STATE_COLOURS, UPDATE_STATUS_COLOURS


def major_incident_panel(incident: Incident) -> dict | None:
    """The panel's context, or None when the incident has no major incident.

    The major incident is read with the incident (`select_related`); the latest external update
    costs one query, and only for incidents that have one.
    """
    mi = incident.major_incident
    if mi is None:
        return None
    latest = (
        StakeholderUpdate.objects.filter(major_incident=mi, audience=Audience.EXTERNAL)
        .select_related("author")
        .order_by("-posted_at", "-id")
        .first()
    )
    return {
        "mi": mi,
        "url": reverse("admin:incidents_majorincident_change", args=[mi.pk]),
        "is_primary": mi.incident_id == incident.pk,
        "state_colour": MI_STATE_COLOURS.get(mi.state, "default"),
        "latest": latest,
        "latest_author": person(latest.author) if latest else "",
        "latest_colour": UPDATE_STATUS_COLOURS.get(latest.status, "default") if latest else "",
    }
