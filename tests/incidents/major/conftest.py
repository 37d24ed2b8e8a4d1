"""Fixtures of major incident management: a Major Incident Manager and a communications lead."""

import pytest

from itsm import roles


@pytest.fixture
def mim(make_user):
    """A Major Incident Manager."""
    return make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Maya", last_name="Manager", is_staff=True)


@pytest.fixture
def comms_lead(make_user, group):
    """A Service Desk Agent who leads communications on major incidents."""
    return make_user(roles.SERVICE_DESK_AGENT, groups=[group], first_name="Chris", last_name="Comms", is_staff=True)
