"""Fixtures of the problem practice: a problem manager, an agent of the `group` fixture."""

import pytest

from itsm import roles


@pytest.fixture
def manager(make_user, group):
    """A Problem Manager, member of the `group` fixture."""
    return make_user(roles.PROBLEM_MANAGER, groups=[group], first_name="Paul", last_name="Problem")


@pytest.fixture
def agent(make_user, group):
    """A Service Desk Agent, member of the `group` fixture (the owner group of `service`)."""
    return make_user(roles.SERVICE_DESK_AGENT, groups=[group], first_name="Alice", last_name="Agent")
