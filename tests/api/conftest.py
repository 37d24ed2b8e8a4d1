"""Fixtures of the schema-driven API tests: the OpenAPI schema as served, and a seeded database."""

import pytest
from rest_framework.authtoken.models import Token

from incidents import services
from itsm import roles
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory, SlaPolicyFactory


@pytest.fixture
def seeded(make_user):
    """An administrator's token and a few records of every kind (services, groups, incidents...)."""
    admin = make_user(roles.ADMINISTRATOR, roles.SERVICE_DESK_AGENT, username="admin")
    group = AssignmentGroupFactory(name="Service Desk", members=[admin])
    service = ServiceFactory(slug="vpn", owner_group=group)
    CategoryFactory(name="Network")
    SlaPolicyFactory(name="Respond in 1 h", kind="response", target_minutes=60)
    SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480)
    for i in range(3):
        incident = services.open_incident(actor=admin, title=f"seed {i}", service=service)
        services.add_comment(incident, actor=admin, body="seen", visibility="public")
    token, _ = Token.objects.get_or_create(user=admin)
    return {"Authorization": f"Token {token.key}"}
