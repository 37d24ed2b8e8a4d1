"""A create through the API answers at once; a real worker then delivers its notifications (PostgreSQL, Redis)."""

from communications.models import Notification
from incidents.choices import TimelineType
from incidents.models import TimelineEvent
from itsm import roles
from tests.factories import AssignmentGroupFactory, ServiceFactory
from tests.helpers import wait_for


def test_creation_notifications_are_delivered_by_the_worker(celery_worker_process, api, make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, email="agent@example.com")
    group = AssignmentGroupFactory(name="Desk", email="desk@example.com", members=[agent])
    ServiceFactory(slug="vpn", owner_group=group)
    response = api.as_user(agent).post("/api/v1/incidents/", {"title": "VPN down", "service": "vpn"}, format="json")
    assert response.status_code == 201
    incident_id = response.json()["id"]
    rows = Notification.objects.filter(subject_kind="incident", subject_id=incident_id)
    assert {"incident.created", "incident.assigned"} <= set(rows.values_list("event", flat=True))
    wait_for(lambda: not rows.filter(status__in=["pending", "sending"]).exists())
    assert set(rows.values_list("status", flat=True)) <= {"sent", "suppressed"}
    noted = TimelineEvent.objects.filter(incident_id=incident_id, type=TimelineType.NOTIFIED).count()
    assert noted == rows.exclude(status="suppressed").count()
