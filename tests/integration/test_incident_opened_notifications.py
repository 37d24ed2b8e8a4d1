"""A create through the API answers at once; a real worker then sends its notifications (PostgreSQL, Redis)."""

from communications.models import Notification
from incidents.choices import TimelineType
from incidents.models import TimelineEvent
from itsm import roles
from itsm.models import DomainEvent
from tests.factories import AssignmentGroupFactory, ServiceFactory
from tests.integration.conftest import wait_for


def test_creation_notifications_come_from_the_worker(celery_worker_process, api, make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, email="agent@example.com")
    group = AssignmentGroupFactory(name="Desk", email="desk@example.com", members=[agent])
    ServiceFactory(slug="vpn", owner_group=group)
    response = api.as_user(agent).post("/api/v1/incidents/", {"title": "VPN down", "service": "vpn"}, format="json")
    assert response.status_code == 201
    incident_id = response.json()["id"]
    event = DomainEvent.objects.get(name="incident.opened", payload__incident=incident_id)
    wait_for(lambda: DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists())
    rows = Notification.objects.filter(subject_kind="incident", subject_id=incident_id)
    assert {"incident.created", "incident.assigned"} <= set(rows.values_list("event", flat=True))
    noted = TimelineEvent.objects.filter(incident_id=incident_id, type=TimelineType.NOTIFIED).count()
    assert noted == rows.exclude(status="suppressed").count()
