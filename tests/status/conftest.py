"""Fixtures of the maintenance tests: a desk with an SLA-covered service, a window factory."""

from datetime import timedelta

import pytest
from django.utils import timezone

from itsm import roles
from status.maintenance import services as maintenance
from tests.factories import AssignmentGroupFactory, ServiceFactory, SlaPolicyFactory


@pytest.fixture
def desk(make_user):
    """An agent of the owner group of `payroll` (and a second service, `mail`)."""
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    payroll = ServiceFactory(slug="payroll", name="Payroll", owner_group=group)
    mail = ServiceFactory(slug="mail", name="Mail", owner_group=group)
    return agent, payroll, mail


@pytest.fixture
def manager(make_user):
    return make_user(roles.MAJOR_INCIDENT_MANAGER, username="mim")


@pytest.fixture
def sla_policies(db):
    return [
        SlaPolicyFactory(name="Respond in 1 h", kind="response", target_minutes=60),
        SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480),
    ]


@pytest.fixture
def announce(administrator, django_capture_on_commit_callbacks):
    """announce(**overrides): a window on payroll tomorrow 20:00-22:00 by the administrator."""

    def make(**overrides):
        start = timezone.now() + timedelta(days=1)
        fields = {
            "actor": administrator,
            "title": "Payroll database upgrade",
            "description": "Read-only while the database moves.",
            "services": ["payroll"],
            "starts_at": start,
            "ends_at": start + timedelta(hours=2),
            "pause_sla": False,
        }
        fields.update(overrides)
        with django_capture_on_commit_callbacks(execute=True):
            return maintenance.announce(**fields)

    return make
