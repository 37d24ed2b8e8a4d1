"""Fixtures of the incident practice: an agent of the `group` fixture, another group, SLA policies."""

import pytest

from itsm import roles
from tests.factories import AssignmentGroupFactory, SlaPolicyFactory


@pytest.fixture
def agent(make_user, group):
    """A Service Desk Agent, member of the `group` fixture (the owner group of `service`)."""
    return make_user(roles.SERVICE_DESK_AGENT, groups=[group], first_name="Alice", last_name="Agent")


@pytest.fixture
def other_group(db):
    return AssignmentGroupFactory(name="Other team")


@pytest.fixture
def sla_policies(db):
    """A response (1 h) and a resolution (8 h) policy on the 24x7 calendar for every priority."""
    return [
        SlaPolicyFactory(name="Respond in 1 h", kind="response", target_minutes=60),
        SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480),
    ]
