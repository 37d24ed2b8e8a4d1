"""Concurrency on PostgreSQL: unique numbers under parallel creates, one winner per transition,
and SLA breaches that fire exactly once with a real worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident, SlaClock, TimelineEvent
from incidents.tasks import check_sla_clock, sweep_sla_clocks
from itsm import roles
from itsm.exceptions import InvalidTransition
from itsm.models import BusinessCalendar, SlaPolicy
from tests.factories import AssignmentGroupFactory
from tests.helpers import run_in_threads, wait_for


@pytest.fixture
def agent(transactional_db, make_user):
    user = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    AssignmentGroupFactory(name="Desk", members=[user])
    return user


def test_parallel_creates_get_unique_increasing_numbers(agent):
    results = run_in_threads(16, lambda i: services.open_incident(actor=agent, title=f"storm {i}").number)
    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == 16
    assert Incident.objects.count() == 16
    later = services.open_incident(actor=agent, title="after the storm").number
    assert later > max(results)  # a sequence only moves forward; numbers are never reused


def test_two_agents_run_the_same_transition_one_wins(agent):
    incident = services.open_incident(actor=agent, title="race", assignment_group=agent.assignment_groups.first())
    payload = {"resolution_code": "fixed", "resolution_notes": "done"}
    results = run_in_threads(
        4, lambda i: services.run_transition(incident.pk, "resolve", actor=agent, payload=payload).state
    )
    assert results.count("resolved") == 1, results
    assert sum(isinstance(r, InvalidTransition) for r in results) == 3
    assert TimelineEvent.objects.filter(incident=incident, type="transition").count() == 1


def test_concurrent_edits_do_not_lose_updates(agent):
    incident = services.open_incident(actor=agent, title="t", assignment_group=agent.assignment_groups.first())
    results = run_in_threads(8, lambda i: services.add_comment(incident.pk, actor=agent, body=f"note {i}").pk)
    assert all(isinstance(r, int) for r in results), results
    incident.refresh_from_db()
    assert incident.comments.count() == 8
    assert incident.version == 1 + 8  # every change bumped the version once


def _due_clock(agent) -> SlaClock:
    always = BusinessCalendar.objects.get(name="24x7")
    SlaPolicy.objects.create(
        name="fast",
        kind="resolution",
        priorities=[1, 2, 3, 4, 5],
        target_minutes=1,
        calendar=always,
        warning_thresholds=[],
    )
    incident = services.open_incident(actor=agent, title="breaching")
    clock = SlaClock.objects.get(incident=incident)
    # Ten minutes pass with nobody looking (and the ETA message lost): move the clock back in time.
    past = timezone.now() - timedelta(minutes=10)
    SlaClock.objects.filter(pk=clock.pk).update(
        started_at=past,
        running_since=past,
        due_at=past + timedelta(minutes=1),
        next_check_at=past + timedelta(minutes=1),
    )
    Incident.objects.filter(pk=incident.pk).update(opened_at=past)
    return clock


def test_breach_fires_exactly_once_when_sweep_and_eta_tasks_race(agent, celery_worker_process):
    clock = _due_clock(agent)
    for _ in range(5):
        check_sla_clock.delay(clock.pk)
    sweep_sla_clocks.delay()
    results = run_in_threads(4, lambda i: check_sla_clock.apply(args=[clock.pk]).get())
    assert all(not isinstance(r, Exception) for r in results), results
    wait_for(lambda: SlaClock.objects.get(pk=clock.pk).breach_fired)
    wait_for(lambda: SlaClock.objects.get(pk=clock.pk).next_check_at is None)
    breaches = TimelineEvent.objects.filter(incident=clock.incident, type="sla", data__event="breached")
    assert breaches.count() == 1
    clock.refresh_from_db()
    assert clock.breached_at == clock.started_at + timedelta(minutes=1)  # recorded at due_at


def test_sweep_catches_a_clock_whose_eta_task_was_lost(agent, celery_worker_process):
    clock = _due_clock(agent)
    sweep_sla_clocks.delay()
    wait_for(lambda: SlaClock.objects.get(pk=clock.pk).breach_fired)
    assert TimelineEvent.objects.filter(incident=clock.incident, type="sla", data__event="breached").count() == 1


def test_backlog_is_leased_and_fired_in_chunks_exactly_once(agent, celery_worker_process):
    """25 due clocks (above the inline threshold): the sweep leases them with one UPDATE ... SKIP LOCKED,
    publishes chunks, a second sweep publishes nothing more, ETA tasks race; each breach fires once."""
    first = _due_clock(agent)
    past = timezone.now() - timedelta(minutes=10)
    clocks = [first]
    for i in range(24):
        incident = services.open_incident(actor=agent, title=f"breaching {i}")
        clock = SlaClock.objects.get(incident=incident)
        SlaClock.objects.filter(pk=clock.pk).update(
            started_at=past, running_since=past, due_at=past + timedelta(minutes=1), next_check_at=past
        )
        clocks.append(clock)
    assert sweep_sla_clocks.apply(kwargs={"chunk": 10}).get() == 25  # 3 chunks published to the worker
    assert sweep_sla_clocks.apply().get() == 0  # leased: nothing published twice
    for clock in clocks[:5]:
        check_sla_clock.delay(clock.pk)
    ids = [clock.pk for clock in clocks]
    wait_for(lambda: SlaClock.objects.filter(pk__in=ids, breach_fired=True).count() == 25)
    wait_for(lambda: not SlaClock.objects.filter(pk__in=ids, queued_at__isnull=False).exists())
    for clock in clocks:
        assert TimelineEvent.objects.filter(incident=clock.incident_id, type="sla", data__event="breached").count() == 1
