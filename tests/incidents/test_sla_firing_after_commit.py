"""SLA actions never run inside the use case that made a clock due (issue 10, item 1).

A change that makes a clock due marks it (stage `breached`, `breached_at` = the due moment) in its
own transaction; the actions (reassign, raise priority, notify) run afterwards from the task or
the sweep, in their own transaction, exactly once. So the use case's response describes what it
stored, and the breach notification describes the incident after the escalation.
"""

import pytest
from freezegun import freeze_time

from communications.models import Notification
from incidents.models import Incident, SlaClock
from incidents.sla import firing
from incidents.tasks import sweep_sla_clocks
from itsm import roles
from itsm.models import BusinessCalendar, SlaPolicy
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def escalating(make_user):
    """A desk whose group escalates to Tier 2, and a P1-only 1 h resolution policy that escalates on breach."""
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    manager = make_user(roles.RESOLVER, username="boss", email="boss@example.com")
    tier2 = AssignmentGroupFactory(name="Tier 2", manager=manager)
    desk = AssignmentGroupFactory(name="Desk", members=[agent], manager=manager, escalation_group=tier2)
    service = ServiceFactory(slug="payroll", owner_group=desk)
    SlaPolicy.objects.create(
        name="P1 resolve in 1 h",
        kind="resolution",
        priorities=[1],
        target_minutes=60,
        calendar=BusinessCalendar.objects.get(name="24x7"),
        warning_thresholds=[],
        actions={"breach": ["notify_group_manager", "reassign_escalation_group"]},
    )
    return agent, desk, tier2, service


def test_a_priority_change_past_due_answers_what_it_stored_and_escalates_after_commit(
    escalating, api, django_capture_on_commit_callbacks
):
    agent, desk, tier2, service = escalating
    client = api.as_user(agent)
    with freeze_time("2026-06-01 08:00:00"):
        created = client.post(
            "/api/v1/incidents/", {"title": "Payroll slow", "service": "payroll", "impact": 3, "urgency": 3}
        )
        assert created.status_code == 201, created.json()
        number, pk = created.json()["number"], created.json()["id"]
    with freeze_time("2026-06-01 09:30:00"):  # the P1 clock, replayed from 08:00, is 30 min past due
        etag = client.get(f"/api/v1/incidents/{pk}/")["ETag"]
        with django_capture_on_commit_callbacks(execute=False) as after_commit:
            response = client.patch(
                f"/api/v1/incidents/{pk}/", {"impact": 1, "urgency": 1}, format="json", HTTP_IF_MATCH=etag
            )
        assert response.status_code == 200, response.json()
        stored = Incident.objects.get(pk=pk)
        body = response.json()
        # The response is the row as committed: no action ran inside the PATCH.
        assert response["ETag"] == f'"v{stored.version}"'
        assert body["priority"] == stored.priority == 1
        assert body["assignment_group"] == stored.assignment_group_id == desk.pk
        resolution = SlaClock.objects.get(incident_id=pk, kind="resolution", stage__in=["running", "breached"])
        assert resolution.stage == "breached"
        assert resolution.breached_at.isoformat() == "2026-06-01T09:00:00+00:00"  # the due moment, not now
        assert not resolution.breach_fired  # marked, not yet acted on
        [view] = [c for c in body["sla"] if c["stage"] != "cancelled" and c["kind"] == "resolution"]
        assert view["stage"] == "breached" and view["breached_at"] == "2026-06-01T09:00:00Z"
        assert not Notification.objects.filter(event="sla.breached").exists()

        # After commit the ETA task fires the breach in its own transaction.
        for callback in after_commit:
            callback()
        stored.refresh_from_db()
        assert stored.assignment_group == tier2
        assert stored.version > int(response["ETag"].strip('"v'))
        breach = Notification.objects.get(event="sla.breached", recipient="boss@example.com")
        assert "Tier 2" in breach.body_text and number in breach.message_subject

        # Exactly once: the sweep and a repeated task find nothing more to do.
        assert sweep_sla_clocks() == 0
        assert firing.fire_due(resolution.pk) is False
        assert Notification.objects.filter(event="sla.breached", recipient="boss@example.com").count() == 1
        assert stored.timeline.filter(type="sla", data__event="breached").count() == 1

        # What the API shows now agrees with the row.
        again = client.get(f"/api/v1/incidents/{pk}/")
        assert again["ETag"] == f'"v{stored.version}"'
        assert again.json()["assignment_group"] == tier2.pk


def test_a_transition_that_makes_a_clock_due_runs_no_action_inside_it(escalating, django_capture_on_commit_callbacks):
    from incidents import services

    agent, desk, tier2, service = escalating
    with freeze_time("2026-06-01 08:00:00"):
        incident = services.open_incident(actor=agent, title="Payroll down", impact=1, urgency=1, service=service)
    with freeze_time("2026-06-01 09:30:00"):
        with django_capture_on_commit_callbacks(execute=False) as after_commit:
            started = services.start(incident, actor=agent)
        stored = Incident.objects.get(pk=incident.pk)
        assert (
            started.version == stored.version and started.assignment_group_id == desk.pk == stored.assignment_group_id
        )
        assert SlaClock.objects.get(incident=incident, kind="resolution").stage == "breached"
        for callback in after_commit:
            callback()
        stored.refresh_from_db()
        assert stored.assignment_group == tier2
        assert Notification.objects.filter(event="sla.breached").count() >= 1
