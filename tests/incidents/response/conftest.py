"""Fixtures of the task tests: a Major Incident Manager, a resolver outside the record's group."""

import pytest

from itsm import roles
from tests.factories import AssignmentGroupFactory


@pytest.fixture
def mim(make_user):
    """A Major Incident Manager."""
    return make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Maya", last_name="Manager", is_staff=True)


@pytest.fixture
def outsider(make_user, db):
    """A resolver of another group: may not change the `group` fixture's incidents."""
    return make_user(roles.RESOLVER, groups=[AssignmentGroupFactory(name="Elsewhere")], first_name="Otto")
