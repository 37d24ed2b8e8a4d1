"""Fixtures of the status page: public services and a major incident with its updates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.major.models import StakeholderUpdate
from itsm import roles
from status.models import StatusPageEntry, StatusPageGroup
from tests.factories import ServiceFactory
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
