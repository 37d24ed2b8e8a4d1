"""Trigger rules on the real stack (PostgreSQL, Redis, a Celery worker): an alert opens a P1 on a
critical service, the worker runs the `incident.trigger_check` domain event after commit, and a
major incident is proposed exactly once, also when the event is delivered again and when the
evaluation runs concurrently."""

import time

import pytest
from rest_framework.test import APIClient

from incidents.major.models import MajorIncident
from incidents.models import Incident
from incidents.response import triggers
from incidents.response.models import TriggerFiring, TriggerRule
from itsm import roles
from itsm.events import DISPATCH_TASK
from itsm.models import DomainEvent
from itsm.queue import send_now
from tests.factories import AssignmentGroupFactory, ServiceFactory
from tests.helpers import run_in_threads, wait_for
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def live(transactional_db, worker):
    return worker


def test_an_alert_p1_on_a_critical_service_is_proposed_once_by_the_worker(live, make_user):
    integration = make_user(roles.INTEGRATION, username="prometheus")
    group = AssignmentGroupFactory(name="Payments team")
    service = ServiceFactory(slug="payments", criticality="critical", owner_group=group)
    rule = TriggerRule.objects.create(
        name="P1 on critical",
        active=True,
        conditions=[
            {"field": "priority", "op": "eq", "value": 1},
            {"field": "service.criticality", "op": "eq", "value": "critical"},
        ],
    )
    client = APIClient()
    client.force_authenticate(integration)

    response = client.post(
        "/api/v1/alerts/",
        {
            "action": "trigger",
            "summary": "Card payments fail",
            "severity": "critical",
            "dedup_key": "pay/down",
            "service": service.slug,
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    incident = Incident.objects.get(pk=response.json()["incident"]["id"])
    assert incident.priority == 1 and incident.alert_severity == "critical"

    mi = wait_for(lambda: MajorIncident.objects.filter(incident=incident).first(), timeout=60)
    event = wait_for(
        lambda: DomainEvent.objects.filter(name=triggers.EVENT_NAME, dispatched_at__isnull=False).first(), timeout=30
    )
    firing = TriggerFiring.objects.get()
    assert (firing.rule, firing.incident, firing.decision, firing.major_incident) == (rule, incident, "proposed", mi)
    assert mi.state == "proposed" and mi.reason.startswith("Trigger rule P1 on critical")

    # Delivered again (a redelivery): still one of each once the worker has run it.
    send_now(DISPATCH_TASK, event.pk)
    time.sleep(1.0)
    assert MajorIncident.objects.count() == 1 and TriggerFiring.objects.count() == 1


def test_concurrent_evaluations_fire_once(live, make_user):
    service = ServiceFactory(slug="shop", criticality="critical", owner_group=AssignmentGroupFactory())
    incident = IncidentFactory(service=service, impact=1, urgency=1)  # no active rule yet: no check queued
    assert not DomainEvent.objects.filter(name=triggers.EVENT_NAME).exists()
    TriggerRule.objects.create(name="any P1", active=True, conditions=[{"field": "priority", "op": "eq", "value": 1}])

    results = run_in_threads(4, lambda i: triggers.evaluate(incident.pk))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len([r for r in results if r is not None]) == 1
    assert MajorIncident.objects.filter(incident=incident).count() == 1
    assert TriggerFiring.objects.get().decision == "proposed"
