"""incidents.policy.can_update: the read-only rule the console asks (closed and cancelled are frozen)."""

import pytest

from incidents import policy
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("state", "allowed"), [(None, True), ("resolved", True), ("closed", False)])
def test_can_update_follows_state_then_can_change(agent, service, state, allowed):
    incident = IncidentFactory(actor=agent, service=service, state=state)
    decision = policy.can_update(agent, incident)
    assert bool(decision) is allowed
    if not allowed:
        assert incident.number in decision.reason and "cannot be changed" in decision.reason


def test_can_update_refuses_what_can_change_refuses(agent, other_group):
    incident = IncidentFactory(assignment_group=other_group)
    assert policy.can_update(agent, incident).reason == policy.can_change(agent, incident).reason != ""


def test_console_page_of_a_closed_incident_is_read_only(client, agent, service):
    incident = IncidentFactory(actor=agent, service=service, state="closed")
    client.force_login(agent)
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert page.status_code == 200
    assert 'name="title"' not in page.content.decode()
