"""Fixtures of the problem console tests: logged-in clients per role, a problem in each state."""

import pytest

from itsm import roles
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory


@pytest.fixture
def console(client, manager):
    """The test client logged in as the Problem Manager."""
    client.force_login(manager)
    return client


@pytest.fixture
def agent_console(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def reader_console(client, make_user):
    client.force_login(make_user(roles.READ_ONLY))
    return client


@pytest.fixture
def problem(manager, service):
    return ProblemFactory(actor=manager, title="VPN drops sessions", service=service)


@pytest.fixture
def incident(agent, service):
    return IncidentFactory(actor=agent, service=service, title="VPN gateway drops my session")
