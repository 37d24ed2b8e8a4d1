"""Batch firing (firing.fire_many): the same warnings, breaches, timeline and notifications as firing
clock by clock, exactly once, a failing clock never holding back its chunk, statements per chunk flat."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from communications.models import Notification
from incidents import services
from incidents.models import Incident, SlaClock
from incidents.sla import firing
from itsm import roles
from itsm.models import BusinessCalendar, SlaPolicy
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db

OPENED = "2026-06-01 08:00:00"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def desk(make_user, settings):
    """An agent in a group with a manager; storm control's digests off (both runs tell the same people)."""
    settings.NOTIFICATION_DIGEST_THRESHOLD = 0
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent", email="agent@example.com")
    manager = make_user(roles.RESOLVER, username="boss", email="boss@example.com")
    group = AssignmentGroupFactory(name="Desk", members=[agent], manager=manager)
    service = ServiceFactory(slug="payroll", owner_group=group)
    return agent, group, service


def resolution_policy(**extra) -> SlaPolicy:
    """100 minutes on 24x7: warnings at 50, 75, 90 minutes, the breach at 100."""
    return SlaPolicy.objects.create(
        name=f"resolution {extra}",
        kind="resolution",
        priorities=[2],
        target_minutes=100,
        calendar=BusinessCalendar.objects.get(name="24x7"),
        **extra,
    )


def open_incidents(desk, count: int, *, assigned: bool = True) -> list[Incident]:
    agent, group, service = desk
    with freeze_time(OPENED):
        return [
            services.open_incident(
                actor=agent,
                title=f"Payroll run {i} fails",
                impact=1,
                urgency=2,
                service=service,
                assignment_group=group,
                assignee=agent if assigned else None,
            )
            for i in range(count)
        ]


def clock_of(incident: Incident) -> SlaClock:
    return SlaClock.objects.get(incident=incident, kind="resolution")


def timeline(incident: Incident) -> list[tuple]:
    """What firing wrote on the timeline, in order (ids and numbers left out)."""
    return [
        (e.type, dict(e.data), e.at if e.type == "sla" and e.data["event"] == "breached" else None)
        for e in incident.timeline.filter(type__in=["sla", "notified"]).order_by("id")
    ]


def notifications(incident: Incident) -> list[tuple]:
    rows = Notification.objects.filter(subject_kind="incident", subject_id=incident.pk).order_by("id")
    return [(n.event, n.channel, n.recipient, n.status, n.reason) for n in rows]


def test_a_chunk_writes_what_firing_clock_by_clock_writes(desk):
    resolution_policy()
    alone = open_incidents(desk, 3) + open_incidents(desk, 1, assigned=False)
    batched = open_incidents(desk, 3) + open_incidents(desk, 1, assigned=False)
    for moment in ("2026-06-01 09:20:00", "2026-06-01 12:00:00"):  # 50 + 75 %, then 90 % and the breach
        with freeze_time(moment):
            assert all(firing.fire_due(clock_of(i).pk) for i in alone)
            assert firing.fire_many([clock_of(i).pk for i in batched]) == len(batched)
    for one, other in zip(alone, batched, strict=True):
        assert timeline(other) == timeline(one)
        assert notifications(other) == notifications(one)
        first, second = clock_of(one), clock_of(other)
        for field in ("warnings_fired", "breach_fired", "breached_at", "stage", "next_check_at", "queued_at"):
            assert getattr(second, field) == getattr(first, field), field
    clock = clock_of(batched[0])
    assert clock.warnings_fired == [50, 75, 90] and clock.breach_fired and clock.stage == "breached"
    assert clock.breached_at == utc(2026, 6, 1, 9, 40)  # recorded at due_at
    events = [(e[1]["event"], e[1]["percent"]) for e in timeline(batched[0]) if e[0] == "sla"]
    assert events == [("started", None), ("warning", 50), ("warning", 75), ("warning", 90), ("breached", 100)]
    assert [e[0] for e in timeline(batched[0])].count("notified") == len(notifications(batched[0])) > 0


def test_each_threshold_fires_once_however_often_the_chunk_comes(desk):
    resolution_policy(warning_thresholds=[])
    incidents = open_incidents(desk, 4)
    ids = [clock_of(i).pk for i in incidents]
    with freeze_time("2026-06-01 10:00:00"):
        assert firing.fire_many(ids + ids[:2]) == 4  # a repeated id in a chunk is fired once
        assert firing.fire_many(ids) == 0  # nothing due any more
        assert firing.fire_due(ids[0]) is False  # the ETA task arriving late is a no-op
    for incident in incidents:
        assert incident.timeline.filter(type="sla", data__event="breached").count() == 1
        assert clock_of(incident).next_check_at is None


def test_the_lease_is_cleared_for_fired_and_for_stale_clocks(desk):
    resolution_policy(warning_thresholds=[])
    fired, stale = open_incidents(desk, 2)
    with freeze_time("2026-06-01 10:00:00"):
        assert sorted(firing.claim_due_clocks()) == sorted([clock_of(fired).pk, clock_of(stale).pk])
        assert firing.fire_due(clock_of(stale).pk)  # the ETA task won: the sweep's message is stale now
        SlaClock.objects.filter(pk=clock_of(stale).pk).update(queued_at=datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
        assert firing.fire_many([clock_of(fired).pk, clock_of(stale).pk]) == 1
    assert not SlaClock.objects.filter(queued_at__isnull=False).exists()


def test_a_clock_that_fails_does_not_hold_back_its_chunk(desk, monkeypatch, caplog):
    resolution_policy(warning_thresholds=[])
    incidents = open_incidents(desk, 4)
    broken = clock_of(incidents[1]).pk
    plan = firing._plan

    def failing(clock, now):
        if clock.pk == broken:
            raise RuntimeError("calendar exploded")
        return plan(clock, now)

    monkeypatch.setattr(firing, "_plan", failing)
    with freeze_time("2026-06-01 10:00:00"):
        ids = firing.claim_due_clocks()
        assert firing.fire_many(ids) == 3
    assert f"SLA clock {broken} could not fire" in caplog.text
    for incident in incidents:
        breaches = incident.timeline.filter(type="sla", data__event="breached").count()
        assert breaches == (0 if clock_of(incident).pk == broken else 1)
    failed = SlaClock.objects.get(pk=broken)
    assert not failed.breach_fired and failed.queued_at is not None  # leased: a later sweep retries it
    monkeypatch.setattr(firing, "_plan", plan)
    with freeze_time("2026-06-01 10:10:00"):  # the lease expired, the calendar is fixed
        assert firing.claim_due_clocks() == [broken]
        assert firing.fire_many([broken]) == 1


def test_a_batch_that_fails_fires_its_clocks_one_by_one(desk, monkeypatch, caplog):
    resolution_policy(warning_thresholds=[])
    incidents = open_incidents(desk, 3)

    def broken(clocks):
        raise RuntimeError("the batch cannot be written")

    monkeypatch.setattr(firing, "_store_fired", broken)
    with freeze_time("2026-06-01 10:00:00"):
        assert firing.fire_many([clock_of(i).pk for i in incidents]) == 3
    assert "could not fire as a batch" in caplog.text
    for incident in incidents:
        assert incident.timeline.filter(type="sla", data__event="breached").count() == 1
        assert incident.timeline.filter(type="notified", data__event="sla.breached").exists()


def test_actions_that_change_the_incident_fire_one_by_one_within_the_chunk(desk):
    agent, group, service = desk
    tier2 = AssignmentGroupFactory(name="Tier 2", manager=group.manager)  # the breach is told to the new owner
    group.escalation_group = tier2
    group.save()
    resolution_policy(warning_thresholds=[], actions={"breach": ["notify_group_manager", "reassign_escalation_group"]})
    escalated = open_incidents(desk, 2)
    with freeze_time("2026-06-01 10:00:00"):
        assert firing.fire_many([clock_of(i).pk for i in escalated]) == 2
    for incident in escalated:
        incident.refresh_from_db()
        assert incident.assignment_group == tier2
        assert incident.timeline.filter(type="sla", data__event="breached").count() == 1
        assert Notification.objects.filter(
            event="sla.breached", subject_id=incident.pk, recipient="boss@example.com"
        ).exists()


def test_named_users_are_told(desk, make_user):
    named = make_user(username="duty", email="duty@example.com")
    resolution_policy(warning_thresholds=[], actions={"breach": [{"notify_users": [named.pk]}]})
    incidents = open_incidents(desk, 2)
    with freeze_time("2026-06-01 10:00:00"):
        firing.fire_many([clock_of(i).pk for i in incidents])
    for incident in incidents:
        assert Notification.objects.filter(subject_id=incident.pk, recipient="duty@example.com").count() == 1
        assert incident.timeline.filter(type="notified", data__recipient="duty@example.com").count() == 1


def test_notifications_are_handed_to_celery_once_per_chunk(desk, django_capture_on_commit_callbacks, monkeypatch):
    from communications import services as communications

    published: list[list[int]] = []
    monkeypatch.setattr(communications, "publish", lambda ids, **kw: published.append(list(ids)) or len(ids))
    resolution_policy(warning_thresholds=[])
    with django_capture_on_commit_callbacks(execute=True):  # the hand-offs of opening them have run
        incidents = open_incidents(desk, 3)
    published.clear()
    with freeze_time("2026-06-01 10:00:00"), django_capture_on_commit_callbacks(execute=True):
        firing.fire_many([clock_of(i).pk for i in incidents])
    pending = Notification.objects.filter(event="sla.breached", status="pending")
    assert len(published) == 1 and sorted(published[0]) == sorted(pending.values_list("pk", flat=True))


def test_statements_per_chunk_do_not_grow_with_its_size(desk):
    resolution_policy(warning_thresholds=[])
    warm_up, small, large = open_incidents(desk, 1), open_incidents(desk, 3), open_incidents(desk, 12)
    with freeze_time("2026-06-01 10:00:00"):  # the system user and the notification configuration, read once
        firing.fire_many([clock_of(warm_up[0]).pk])

    def statements(incidents) -> int:
        ids = [clock_of(i).pk for i in incidents]
        with freeze_time("2026-06-01 10:00:00"), CaptureQueriesContext(connection) as ctx:
            assert firing.fire_many(ids) == len(incidents)
        return len(ctx.captured_queries)

    few, many = statements(small), statements(large)
    # Clocks, policy + calendar (3), system user, watchers, the emit (users, groups, subscriptions,
    # storm control 2, keys, INSERT + savepoint), timeline INSERT, clocks UPDATE, the savepoint.
    # One by one it was ~21 per breach.
    assert few == many <= 22
    assert many / len(large) < 2
