"""Trigger rules on the alert intake: "an alert with severity critical on a customer-facing service"."""

import pytest

from incidents.major.models import MajorIncident
from incidents.models import Incident
from incidents.response.models import TriggerFiring, TriggerRule
from itsm import roles
from itsm.models import DomainEvent
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/"
RULE = [
    {"field": "alert.severity", "op": "eq", "value": "critical"},
    {"field": "service.customer_facing", "op": "eq", "value": True},
]


@pytest.fixture
def client(api, make_user):
    return api.as_user(make_user(roles.INTEGRATION, username="prometheus"))


def trigger(client, service, severity, key):
    body = {"action": "trigger", "summary": "Checkout errors", "severity": severity, "source": "shop-1"}
    return client.post(URL, {**body, "dedup_key": key, "service": service.slug}, format="json")


def test_a_critical_alert_on_a_customer_facing_service_proposes_once(client, group, django_capture_on_commit_callbacks):
    rule = TriggerRule.objects.create(name="customer-facing critical", conditions=RULE, active=True)
    shop = ServiceFactory(slug="shop", customer_facing=True, owner_group=group)
    internal = ServiceFactory(slug="wiki", customer_facing=False, owner_group=group)

    with django_capture_on_commit_callbacks(execute=True):
        assert trigger(client, shop, "warning", "shop/warn").status_code == 202
        assert trigger(client, internal, "critical", "wiki/down").status_code == 202
    assert not TriggerFiring.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = trigger(client, shop, "critical", "shop/down")
        assert response.status_code == 202
        trigger(client, shop, "critical", "shop/down")  # a repeat lands on the same incident
    incident = Incident.objects.get(pk=response.json()["incident"]["id"])
    assert incident.alert_severity == "critical"
    firing = TriggerFiring.objects.get()
    assert (firing.rule, firing.incident, firing.decision) == (rule, incident, "proposed")
    assert MajorIncident.objects.get().incident == incident
    # The repeat published no second check (only incident creation and priority/service changes do).
    assert DomainEvent.objects.filter(name="incident.trigger_check").count() == 3
