"""Major incidents for tests.

`MajorIncidentFactory(state="active", ...)` stores a record in the given state directly (number
from the sequences, the primary incident linked), for tests of what happens *to* a major
incident; tests of the lifecycle itself go through `incidents.major.lifecycle`.
"""

from __future__ import annotations

import factory
from django.utils import timezone

from incidents.major.models import MajorIncident
from itsm.numbering import next_number
from tests.incidents.factories import IncidentFactory

TIMESTAMPS = {
    "active": ["declared_at"],
    "resolved": ["declared_at", "resolved_at"],
    "in_review": ["declared_at", "resolved_at", "review_started_at"],
    "closed": ["declared_at", "resolved_at", "review_started_at", "closed_at"],
    "rejected": ["rejected_at"],
}


class MajorIncidentFactory(factory.django.DjangoModelFactory):
    """A stored major incident; `affected_services=[...]` and `stakeholders=[...]` set the M2Ms."""

    class Meta:
        model = MajorIncident

    incident = factory.LazyFunction(lambda: IncidentFactory(impact=1, urgency=1))
    title = factory.LazyAttribute(lambda o: o.incident.title)
    reason = "Several sites cannot work."
    state = "active"
    update_cadence_minutes = 30

    @classmethod
    def _create(cls, model_class, *args, affected_services=(), stakeholders=(), **kwargs):
        now = timezone.now()
        for name in TIMESTAMPS.get(kwargs.get("state", "active"), []):
            kwargs.setdefault(name, now)
        if kwargs.get("state", "active") != "proposed":
            kwargs.setdefault("detected_at", now)
            kwargs.setdefault("impact_started_at", now)
        if kwargs.get("state", "active") == "rejected":
            kwargs.setdefault("rejection_reason", "Not major.")
        kwargs.setdefault("number", next_number("major_incident"))
        mi = super()._create(model_class, *args, **kwargs)
        mi.affected_services.set(affected_services or ([mi.incident.service] if mi.incident.service_id else []))
        mi.stakeholders.set(stakeholders)
        type(mi.incident).objects.filter(pk=mi.incident_id).update(major_incident=mi)
        mi.incident.major_incident = mi
        return mi
