"""A create's notifications take the path every incident event takes: outbox rows in its transaction."""

import pytest

from communications.models import Notification
from incidents import services
from incidents.choices import TimelineType
from incidents.models import TimelineEvent
from itsm import roles
from itsm.models import DomainEvent
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent", email="agent@example.com")
    others = [make_user(email=f"m{i}@example.com") for i in range(2)]
    group = AssignmentGroupFactory(name="Desk", email="desk@example.com", members=[agent, *others])
    service = ServiceFactory(slug="vpn", owner_group=group)
    return agent, group, service


def notified(incident) -> list[tuple]:
    rows = TimelineEvent.objects.filter(incident=incident, type=TimelineType.NOTIFIED)
    return sorted((e.data["event"], e.data["channel"], e.data["recipient"]) for e in rows)


def test_create_queues_its_notifications_in_its_own_transaction(desk):
    agent, group, service = desk
    incident = services.open_incident(actor=agent, title="VPN down", service=service)
    rows = Notification.objects.filter(subject_kind="incident", subject_id=incident.pk)
    assert {"incident.created", "incident.assigned"} <= set(rows.values_list("event", flat=True))
    assert notified(incident) == sorted((n.event, n.channel, n.recipient) for n in rows.exclude(status="suppressed"))
    assert not DomainEvent.objects.exists()  # no second path for incident events
    created = rows.filter(event="incident.created").first()
    assert incident.number in created.message_subject and "State: new" in created.body_text


def test_unassigned_create_announces_only_the_creation(desk):
    agent, group, service = desk
    incident = services.open_incident(actor=agent, title="Printer")
    events = set(Notification.objects.filter(subject_id=incident.pk).values_list("event", flat=True))
    assert "incident.assigned" not in events


def test_notifications_are_handed_to_the_broker_only_after_commit(desk, django_capture_on_commit_callbacks):
    agent, group, service = desk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incident = services.open_incident(actor=agent, title="VPN down", service=service)
    assert callbacks, "delivery is queued on commit"
    assert Notification.objects.filter(subject_id=incident.pk, status="pending").exists()
