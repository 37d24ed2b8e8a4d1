"""Scheduled maintenance end to end on PostgreSQL, Redis and a real Celery worker: a window with
`pause_sla` is announced, the worker's sweep starts and completes it, the resolution clock of an
incident on its service moves by exactly the window, and a service subscriber receives the
announcement and the start email in the loopback SMTP sink."""

import time
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.utils import timezone

from communications.models import NotificationRule, Subscription
from incidents import services as incidents
from incidents.models import SlaClock
from itsm import roles
from status.maintenance import services as maintenance
from status.models import MaintenanceWindow
from status.tasks import sweep_maintenance
from tests.factories import AssignmentGroupFactory, ServiceFactory, SlaPolicyFactory
from tests.helpers import wait_for


@pytest.fixture
def live(transactional_db, worker, smtp):
    NotificationRule.objects.all().delete()  # recipients: exactly the subscriber
    smtp.messages.clear()
    return worker


def subjects_to(smtp, address: str) -> list[str]:
    parsed = [message_from_bytes(raw) for raw in list(smtp.messages)]
    return [str(m["Subject"]) for m in parsed if address in (m["To"] or "")]


def sleep_until(moment) -> None:
    delay = (moment - timezone.now()).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.2)


def test_the_worker_starts_a_pausing_window_and_the_clock_moves_by_it(live, smtp, make_user):
    admin = make_user(roles.ADMINISTRATOR, email="admin@example.com")
    agent = make_user(roles.SERVICE_DESK_AGENT, email="agent@example.com")
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    payroll = ServiceFactory(slug="payroll", name="Payroll", owner_group=group)
    SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480)
    Subscription.objects.create(email="subscriber@example.com", service=payroll)

    incident = incidents.open_incident(actor=agent, title="Payroll slow", impact=2, urgency=2, service=payroll)
    clock = SlaClock.objects.get(incident=incident, kind="resolution")
    original_due = clock.due_at

    start = timezone.now() + timedelta(seconds=3)
    window = maintenance.announce(
        actor=admin,
        title="Payroll database upgrade",
        description="Read-only while the database moves.",
        services=["payroll"],
        starts_at=start,
        ends_at=start + timedelta(seconds=4),
        pause_sla=True,
    )
    wait_for(lambda: any("Scheduled maintenance" in s for s in subjects_to(smtp, "subscriber@example.com")))

    sleep_until(window.starts_at)
    sweep_maintenance.delay()
    wait_for(lambda: MaintenanceWindow.objects.get(pk=window.pk).state == "in_progress")
    clock.refresh_from_db()
    assert clock.stage == "paused" and clock.paused_since == window.starts_at
    wait_for(lambda: any("Maintenance started" in s for s in subjects_to(smtp, "subscriber@example.com")))

    sleep_until(window.ends_at)
    sweep_maintenance.delay()
    wait_for(lambda: MaintenanceWindow.objects.get(pk=window.pk).state == "completed")
    clock.refresh_from_db()
    assert clock.stage == "running" and clock.running_since == window.ends_at
    assert clock.due_at == original_due + (window.ends_at - window.starts_at)
    reasons = [e.data.get("reason", "") for e in incident.timeline.filter(type="sla", data__event="paused")]
    assert reasons and reasons[0].startswith("maintenance MNT")


def test_two_sweeps_at_once_start_a_window_once(transactional_db, make_user):
    from communications.models import Notification
    from tests.helpers import run_in_threads

    NotificationRule.objects.all().delete()
    admin = make_user(roles.ADMINISTRATOR, email="admin@example.com")
    payroll = ServiceFactory(slug="payroll", name="Payroll")
    Subscription.objects.create(email="subscriber@example.com", service=payroll)
    windows = [
        maintenance.announce(
            actor=admin,
            title=f"Upgrade {i}",
            description="Read-only.",
            services=[payroll],
            starts_at=timezone.now() + timedelta(seconds=1),
            ends_at=timezone.now() + timedelta(hours=1),
        )
        for i in range(5)
    ]
    sleep_until(windows[-1].starts_at)
    results = run_in_threads(4, lambda i: maintenance.start_due())
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 5
    assert set(MaintenanceWindow.objects.values_list("state", flat=True)) == {"in_progress"}
    started = Notification.objects.filter(event="maintenance.started", recipient="subscriber@example.com")
    assert started.count() == 5 and set(MaintenanceWindow.objects.values_list("version", flat=True)) == {2}
