"""open_incident publishes `incident.opened`; a worker sends the creation notifications from it."""

import pytest
from django.db import transaction

from communications.models import Notification
from incidents import notify, services, subscribers
from incidents.choices import TimelineType
from incidents.models import TimelineEvent
from itsm import events, roles
from itsm.models import DomainEvent
from itsm.tasks import sweep_domain_events
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent", email="agent@example.com")
    others = [make_user(email=f"m{i}@example.com") for i in range(2)]
    group = AssignmentGroupFactory(name="Desk", email="desk@example.com", members=[agent, *others])
    service = ServiceFactory(slug="vpn", owner_group=group)
    return agent, group, service


def sent(incident) -> list[tuple]:
    rows = Notification.objects.filter(subject_kind="incident", subject_id=incident.pk).order_by("id")
    return sorted((n.event, n.channel, n.recipient, n.message_subject) for n in rows)


def notified(incident) -> list[tuple]:
    rows = TimelineEvent.objects.filter(incident=incident, type=TimelineType.NOTIFIED)
    return sorted((e.data["event"], e.data["channel"], e.data["recipient"]) for e in rows)


def test_create_writes_one_event_and_no_notification_in_the_request(desk):
    agent, group, service = desk
    incident = services.open_incident(actor=agent, title="VPN down", service=service)
    event = DomainEvent.objects.get(name=subscribers.OPENED)
    assert event.payload["incident"] == incident.pk and event.payload["actor"] == agent.pk
    assert event.payload["notifications"] == ["incident.created", "incident.assigned"]
    assert event.dispatched_at is None
    assert sent(incident) == [] and notified(incident) == []


def test_unassigned_create_announces_only_the_creation(desk):
    agent, group, service = desk
    services.open_incident(actor=agent, title="Printer")
    assert DomainEvent.objects.get(name=subscribers.OPENED).payload["notifications"] == ["incident.created"]


def test_the_worker_sends_what_the_request_used_to_send(desk, django_capture_on_commit_callbacks):
    agent, group, service = desk
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.open_incident(actor=agent, title="VPN down", service=service)
    # What the inline fan-out wrote, computed in a savepoint that is rolled back.
    with transaction.atomic():
        for notice in list(Notification.objects.filter(subject_id=incident.pk)):
            Notification.objects.filter(pk=notice.pk).delete()
        TimelineEvent.objects.filter(incident=incident, type=TimelineType.NOTIFIED).delete()
        for name in ("incident.created", "incident.assigned"):
            notify.incident_event(name, incident, agent)
        expected, expected_notes = sent(incident), notified(incident)
        transaction.set_rollback(True)
    assert expected and any(e[0] == "incident.assigned" for e in expected)
    assert sent(incident) == expected
    assert notified(incident) == expected_notes
    event = DomainEvent.objects.get(name=subscribers.OPENED)
    assert event.dispatched_at is not None
    assert events.dispatch(event.pk) is False  # a redelivered message sends nothing twice
    assert sent(incident) == expected


def test_notifications_describe_the_incident_as_opened(desk, django_capture_on_commit_callbacks):
    agent, group, service = desk
    incident = services.open_incident(actor=agent, title="VPN down", service=service)
    # A quick follow-up change, committed before the worker picks the event up.
    services.update_incident(incident, actor=agent, changes={"title": "VPN down for everyone"})
    Notification.objects.all().delete()
    event = DomainEvent.objects.get(name=subscribers.OPENED)
    assert events.dispatch(event.pk) is True
    created = Notification.objects.filter(subject_id=incident.pk, event="incident.created")
    assert created and all("for everyone" not in n.message_subject + n.body_text for n in created)
    assert all("VPN down" in n.message_subject + n.body_text for n in created)


def test_broker_down_the_sweep_sends_them_later(desk, monkeypatch, django_capture_on_commit_callbacks):
    from itsm import tasks

    agent, group, service = desk

    def down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    with monkeypatch.context() as patch:
        patch.setattr(tasks.dispatch_domain_event, "apply_async", down)
        with django_capture_on_commit_callbacks(execute=True):
            incident = services.open_incident(actor=agent, title="VPN down", service=service)
    assert sent(incident) == []  # the request succeeded; nothing went out yet
    assert sweep_domain_events(older_than_seconds=0) == 1
    assert {e[0] for e in sent(incident)} == {"incident.created", "incident.assigned"}
    assert DomainEvent.objects.get(name=subscribers.OPENED).dispatched_at is not None


def test_the_returned_instance_reads_related_rows_fresh(desk, sla_policies, make_user):
    """What open_incident attached is reported beside the ORM's caches, never instead of them."""
    agent, group, service = desk
    watcher = make_user()
    incident = services.open_incident(actor=agent, title="VPN down", service=service, watchers=[watcher])
    assert [c.kind for c in incident.opened_clocks] == ["response", "resolution"]
    assert incident.opened_watcher_ids == [watcher.pk]
    services.run_transition(incident, "cancel", actor=agent, payload={"reason": "duplicate"})
    assert {c.stage for c in incident.sla_clocks.all()} == {"cancelled"}  # read now, not remembered
    incident.watchers.remove(watcher)
    assert list(incident.watchers.all()) == []
