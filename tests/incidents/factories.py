"""Incidents for tests, made the only way incidents are made: through `incidents.services`.

`IncidentFactory(**fields)` opens an incident with `services.open_incident` (default actor: a
superuser, so policy never refuses); `IncidentFactory(state="on_hold")` then walks it to that
state through the transitions, and `bring_to(incident, state)` does the same for an existing one.
Every step writes the timeline and SLA clocks exactly as in production.
"""

from __future__ import annotations

import factory

from incidents import services
from incidents.choices import IncidentState
from incidents.models import Incident
from tests.factories import AssignmentGroupFactory, UserFactory

S = IncidentState

# Transition payloads that satisfy each transition's required fields (services.TRANSITION_FIELDS).
PAYLOADS: dict[str, dict] = {
    "start": {},
    "hold": {"hold_reason": "awaiting_caller"},
    "resume": {},
    "resolve": {"resolution_code": "fixed", "resolution_notes": "Fixed by the test suite."},
    "reopen": {"reason": "It broke again."},
    "close": {},
    "cancel": {"reason": "Logged by mistake."},
}

# The transitions that bring a new incident to each state.
PATHS: dict[str, list[str]] = {
    S.NEW: [],
    S.IN_PROGRESS: ["start"],
    S.ON_HOLD: ["start", "hold"],
    S.RESOLVED: ["start", "resolve"],
    S.CLOSED: ["start", "resolve", "close"],
    S.CANCELLED: ["cancel"],
}


def factory_actor():
    """The superuser incidents are opened and moved by when a test names no actor."""
    return UserFactory(username="incident-factory", is_superuser=True, first_name="Factory", last_name="Robot")


def bring_to(incident: Incident, state: str, *, actor=None, group=None) -> Incident:
    """Walk a *new* incident to `state` through the services (start gets a group when it has none)."""
    actor = actor or factory_actor()
    for name in PATHS[S(state)]:
        payload = dict(PAYLOADS[name])
        if name == "start" and incident.assignment_group_id is None:
            payload["assignment_group"] = group or AssignmentGroupFactory()
        incident = services.run_transition(incident, name, actor=actor, payload=payload)
    return incident


class IncidentFactory(factory.Factory):
    """`IncidentFactory(title=..., service=..., actor=user, state="resolved")` through the services."""

    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    description = "Something does not work."
    impact = 2
    urgency = 2

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("Incidents exist only through services.open_incident; use IncidentFactory().")

    @classmethod
    def _create(cls, model_class, *args, actor=None, state: str | None = None, group=None, **kwargs) -> Incident:
        actor = actor or factory_actor()
        incident = services.open_incident(actor=actor, **kwargs)
        if state:
            incident = bring_to(incident, state, actor=actor, group=group)
        return incident
