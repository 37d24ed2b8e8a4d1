"""Fixtures of the status app: public services and a major incident with its updates (the page);
a desk with an SLA-covered service and a window factory (maintenance)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.major.models import StakeholderUpdate
from itsm import roles
from status.maintenance import services as maintenance
from status.models import StatusPageEntry, StatusPageGroup
from tests.factories import AssignmentGroupFactory, ServiceFactory, SlaPolicyFactory
from tests.incidents.major.factories import MajorIncidentFactory


@pytest.fixture
def mim(make_user):
    return make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Maya", last_name="Managerova", is_staff=True)


@pytest.fixture
def payroll(db):
    service = ServiceFactory(slug="payroll", name="Payroll backend", description="Runs on pay-db-01.corp.internal")
    group = StatusPageGroup.objects.create(name="Business applications", position=10)
    StatusPageEntry.objects.create(
        service=service, group=group, public_name="Payroll", public_description="Payroll runs and payslips."
    )
    return service


@pytest.fixture
def email_service(db):
    return ServiceFactory(slug="email", name="Email")


def post(mi, audience: str, body: str, *, status: str = "investigating", author=None, minutes_ago: int = 0):
    """Store one stakeholder update (the use case is tested elsewhere; here only its row matters)."""
    update = StakeholderUpdate(
        major_incident=mi,
        audience=audience,
        status=status,
        body=body,
        posted_at=timezone.now() - timedelta(minutes=minutes_ago),
        author=author,
    )
    update.save(force_insert=True)
    return update


@pytest.fixture
def outage(payroll, mim):
    """An active public major incident on payroll with an external and an internal update."""
    mi = MajorIncidentFactory(
        title="Payroll unavailable",
        manager=mim,
        bridge_url="https://meet.example.com/secret-bridge",
        chat_channel="#inc-payroll-war-room",
        affected_services=[payroll],
        next_update_due_at=timezone.now() + timedelta(minutes=30),
    )
    post(mi, "external", "Payroll is unavailable. We are investigating.", author=mim, minutes_ago=10)
    post(mi, "internal", "Restarting the connection pool on pay-db-01.", status="identified", author=mim)
    return mi


# --- maintenance ---------------------------------------------------------------------------------
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
