"""SLA clocks: hand-computed scenarios a service desk lives by, replay, exactly-once firing."""

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from incidents import services, sla
from incidents.models import Incident, SlaClock
from incidents.sla import firing
from incidents.tasks import sweep_sla_clocks
from itsm import roles
from itsm.models import BusinessCalendar, Holiday, SlaPolicy
from tests.factories import AssignmentGroupFactory, BusinessCalendarFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def desk(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    service = ServiceFactory(slug="payroll", owner_group=group)
    return agent, group, service


@pytest.fixture
def business():
    """Mon-Fri 09:00-18:00 Europe/Berlin."""
    return BusinessCalendarFactory(name="Berlin 9-18", timezone="Europe/Berlin")


def policy(kind: str, priorities: list[int], minutes: int, calendar, **extra) -> SlaPolicy:
    return SlaPolicy.objects.create(
        name=f"{kind} {priorities} {minutes} {calendar.name} {extra}",
        kind=kind,
        priorities=priorities,
        target_minutes=minutes,
        calendar=calendar,
        **extra,
    )


def clock(incident: Incident, kind: str) -> SlaClock:
    return SlaClock.objects.filter(incident=incident, kind=kind).exclude(stage="cancelled").latest("id")


def open_p2(agent, service) -> Incident:
    return services.open_incident(actor=agent, title="Payroll run fails", impact=1, urgency=2, service=service)


def test_p2_opened_friday_1730_with_monday_holiday(desk, business):
    """Friday 17:30-18:00 counts 30 min; Sat, Sun and the Monday holiday count nothing.

    Response (30 min) is due Friday 18:00 local (17:00 UTC). Resolution (8 h): 0.5 h on Friday,
    7.5 h from Tuesday 09:00 -> Tuesday 16:30 local = 15:30 UTC.
    """
    agent, group, service = desk
    Holiday.objects.create(calendar=business, date="2026-11-30", name="Local holiday")
    policy("response", [2], 30, business)
    policy("resolution", [2], 480, business)
    with freeze_time("2026-11-27 16:30:00"):  # Friday 17:30 in Berlin (CET, UTC+1)
        incident = open_p2(agent, service)
        assert clock(incident, "response").due_at == utc(2026, 11, 27, 17, 0)
        assert clock(incident, "resolution").due_at == utc(2026, 12, 1, 15, 30)
    with freeze_time("2026-12-01 08:10:00"):  # Tuesday 09:10: 40 business minutes after opening
        services.start(incident, actor=agent)
        response = clock(incident, "response")
        assert response.stage == "breached"
        assert response.breached_at == utc(2026, 11, 27, 17, 0)  # breached at due_at, not when seen
        assert response.stopped_at == utc(2026, 12, 1, 8, 10)
        view = sla.clock_view(response)
        assert view["elapsed_seconds"] == 40 * 60 and view["remaining_seconds"] == 0


def test_hold_spanning_a_weekend(desk, business):
    """Thu 10:00 open, 16 h target. Thu 10-18 (8 h) + Fri 9-12 (3 h) = 11 h, hold Fri 12:00 to Mon 11:00
    pauses Fri 12-18 + Mon 9-11 = 8 business hours; 5 h remain from Mon 11:00 -> Mon 16:00 local."""
    agent, group, service = desk
    policy("resolution", [2], 16 * 60, business)
    with freeze_time("2026-11-26 09:00:00"):  # Thursday 10:00 CET
        incident = open_p2(agent, service)
        services.start(incident, actor=agent)
    with freeze_time("2026-11-26 17:00:00"):  # Thursday 18:00: 8 of 16 h, the 50 % warning's moment
        assert sweep_sla_clocks() == 1
    with freeze_time("2026-11-27 11:00:00"):  # Friday 12:00
        services.hold(incident, actor=agent, hold_reason="awaiting_vendor")
        paused = clock(incident, "resolution")
        assert paused.stage == "paused" and paused.due_at is None
        assert sla.clock_view(paused)["elapsed_seconds"] == 11 * 3600
    with freeze_time("2026-11-30 10:00:00"):  # Monday 11:00
        assert sla.clock_view(clock(incident, "resolution"))["remaining_seconds"] == 5 * 3600  # frozen
        services.resume(incident, actor=agent)
        resumed = clock(incident, "resolution")
        assert resumed.stage == "running"
        assert resumed.paused_seconds == 8 * 3600
        assert resumed.due_at == utc(2026, 11, 30, 15, 0)
    sla_events = [e.data["event"] for e in incident.timeline.filter(type="sla")]
    assert sla_events == ["started", "warning", "paused", "resumed"]  # 11 of 16 h had passed the 50 % mark


def test_two_holds_accumulate_paused_time_exactly(desk):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 600, always)
    with freeze_time("2026-06-01 08:00:00"):
        incident = open_p2(agent, service)
        services.start(incident, actor=agent)
    for hold_at, resume_at in (
        ("2026-06-01 09:00:00", "2026-06-01 09:45:00"),
        ("2026-06-01 11:00:00", "2026-06-01 11:20:30"),
    ):
        with freeze_time(hold_at):
            services.hold(incident, actor=agent, hold_reason="awaiting_caller")
        with freeze_time(resume_at):
            services.resume(incident, actor=agent)
    resolution = clock(incident, "resolution")
    assert resolution.paused_seconds == 45 * 60 + 20 * 60 + 30
    assert resolution.due_at == utc(2026, 6, 1, 18, 0) + timedelta(minutes=65, seconds=30)


def test_priority_change_cancels_and_reattaches_retroactively(desk, business):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [3], 24 * 60, business)
    policy("resolution", [1], 240, always)
    with freeze_time("2026-06-02 08:00:00"):
        incident = services.open_incident(actor=agent, title="Slow", impact=2, urgency=2, service=service)
        assert clock(incident, "resolution").policy.priorities == [3]
    with freeze_time("2026-06-02 09:00:00"):
        incident = services.update_incident(incident, actor=agent, changes={"impact": 1, "urgency": 1})
    clocks = list(SlaClock.objects.filter(incident=incident).order_by("id"))
    assert [c.stage for c in clocks] == ["cancelled", "running"]
    new = clocks[1]
    assert new.started_at == utc(2026, 6, 2, 8, 0)  # retroactive: from opened_at
    assert new.due_at == utc(2026, 6, 2, 12, 0)
    assert [e.data["event"] for e in incident.timeline.filter(type="sla")] == ["started", "cancelled", "started"]


def test_priority_change_keeps_paused_time(desk):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [3], 600, always)
    policy("resolution", [2], 300, always)
    with freeze_time("2026-06-03 08:00:00"):
        incident = services.open_incident(actor=agent, title="x", impact=2, urgency=2, service=service)
        services.start(incident, actor=agent)
    with freeze_time("2026-06-03 09:00:00"):
        services.hold(incident, actor=agent, hold_reason="awaiting_caller")
    with freeze_time("2026-06-03 10:00:00"):
        services.resume(incident, actor=agent)
    with freeze_time("2026-06-03 10:30:00"):
        incident = services.update_incident(incident, actor=agent, changes={"urgency": 1})  # P3 -> P2
    new = clock(incident, "resolution")
    assert new.policy.target_minutes == 300
    assert new.paused_seconds == 3600  # the hold before the change still counts as paused
    assert new.due_at == utc(2026, 6, 3, 14, 0)  # 08:00 + 5 h + 1 h paused


def test_reopen_after_two_days_continues_the_resolution_clock(desk):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 480, always)
    with freeze_time("2026-06-01 08:00:00"):
        incident = open_p2(agent, service)
    with freeze_time("2026-06-01 10:00:00"):
        services.resolve(incident, actor=agent, resolution_code="fixed", resolution_notes="patched")
        assert clock(incident, "resolution").stage == "met"
    with freeze_time("2026-06-03 10:00:00"):
        services.reopen(incident, actor=agent, reason="Back again")
        resumed = clock(incident, "resolution")
        assert resumed.stage == "running" and resumed.stopped_at is None
        assert sla.clock_view(resumed)["elapsed_seconds"] == 2 * 3600  # the resolved days do not count
        assert resumed.due_at == utc(2026, 6, 3, 16, 0)
    assert SlaClock.objects.filter(incident=incident, kind="resolution").count() == 1


def test_dst_night_in_berlin(desk):
    """A 24x7 calendar in Europe/Berlin across 2026-03-29 02:00 -> 03:00: 8 business hours from
    Saturday 22:00 CET (21:00 UTC) end at 05:00 UTC, which is 07:00 CEST on the wall clock."""
    agent, group, service = desk
    berlin_all_day = BusinessCalendarFactory(
        name="Berlin always", timezone="Europe/Berlin", hours=[(d, 0, 1440) for d in range(7)]
    )
    policy("resolution", [2], 480, berlin_all_day)
    with freeze_time("2026-03-28 21:00:00"):
        incident = open_p2(agent, service)
    assert clock(incident, "resolution").due_at == utc(2026, 3, 29, 5, 0)


def test_cancel_cancels_clocks(desk, business):
    agent, group, service = desk
    policy("resolution", [2], 480, business)
    policy("response", [2], 60, business)
    with freeze_time("2026-06-01 08:00:00"):
        incident = open_p2(agent, service)
        services.cancel(incident, actor=agent, reason="duplicate")
    assert set(SlaClock.objects.filter(incident=incident).values_list("stage", flat=True)) == {"cancelled"}


def test_most_specific_policy_wins(desk, business):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    general = policy("resolution", [2], 480, always)
    specific = policy("resolution", [2], 120, always, service=service)
    other = ServiceFactory(slug="other")
    incident = open_p2(agent, service)
    assert clock(incident, "resolution").policy == specific
    assert clock(open_p2(agent, other), "resolution").policy == general


def test_warnings_and_breach_fire_once(desk, django_capture_on_commit_callbacks):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 100, always)  # thresholds 50, 75, 90 -> 50, 75, 90 minutes
    with freeze_time("2026-06-01 08:00:00"):
        incident = open_p2(agent, service)
        resolution = clock(incident, "resolution")
        assert resolution.next_check_at == utc(2026, 6, 1, 8, 50)
    with freeze_time("2026-06-01 09:20:00"):  # past 50 and 75 percent
        assert firing.fire_due(resolution.pk) is True
        assert firing.fire_due(resolution.pk) is False  # nothing due any more: a second delivery is a no-op
        resolution.refresh_from_db()
        assert resolution.warnings_fired == [50, 75] and resolution.next_check_at == utc(2026, 6, 1, 9, 30)
    with freeze_time("2026-06-01 12:00:00"):  # long past the breach: the sweep catches it
        sweep_sla_clocks()
        sweep_sla_clocks()
    resolution.refresh_from_db()
    assert resolution.warnings_fired == [50, 75, 90]
    assert resolution.breach_fired and resolution.stage == "breached"
    assert resolution.breached_at == utc(2026, 6, 1, 9, 40)  # recorded at due_at
    events = [(e.data["event"], e.data["percent"]) for e in incident.timeline.filter(type="sla")]
    assert events == [("started", None), ("warning", 50), ("warning", 75), ("warning", 90), ("breached", 100)]
    assert resolution.next_check_at is None


def test_due_clock_query_uses_next_check_at(desk):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 60, always, warning_thresholds=[])
    with freeze_time("2026-06-01 08:00:00"):
        incident = open_p2(agent, service)
    resolution = clock(incident, "resolution")
    assert firing.due_clock_ids(utc(2026, 6, 1, 8, 59)) == []
    assert firing.due_clock_ids(utc(2026, 6, 1, 9, 0)) == [resolution.pk]


def test_api_shows_clocks_and_filters_breached(api, desk):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 60, always)
    with freeze_time("2026-06-01 08:00:00"):
        late = open_p2(agent, service)
        on_time = services.open_incident(actor=agent, title="fine", impact=3, urgency=3)
    with freeze_time("2026-06-01 10:00:00"):
        firing.fire_due(clock(late, "resolution").pk)
        client = api.as_user(agent)
        body = client.get(f"/api/v1/incidents/{late.id}/").json()
        assert body["sla"][0]["stage"] == "breached"
        assert set(body["sla"][0]) >= {
            "policy",
            "kind",
            "stage",
            "started_at",
            "due_at",
            "breached_at",
            "stopped_at",
            "elapsed_seconds",
            "paused_seconds",
            "remaining_seconds",
        }
        breached = client.get("/api/v1/incidents/?sla_breached=true").json()["results"]
        assert [r["number"] for r in breached] == [late.number]
        not_breached = client.get("/api/v1/incidents/?sla_breached=false").json()["results"]
        assert [r["number"] for r in not_breached] == [on_time.number]
        due = client.get("/api/v1/incidents/?sla_due_before=2026-06-01T09:30:00Z").json()["results"]
        assert [r["number"] for r in due] == [late.number]


def test_breach_actions_notify_named_people_and_escalate(desk, make_user):
    agent, group, service = desk
    manager = make_user(roles.RESOLVER, username="boss", email="boss@example.com")
    tier2 = AssignmentGroupFactory(name="Tier 2", manager=manager)  # the breach is told to the new owner's manager
    group.manager = manager
    group.escalation_group = tier2
    group.save()
    always = BusinessCalendar.objects.get(name="24x7")
    policy(
        "resolution",
        [2],
        60,
        always,
        warning_thresholds=[],
        actions={"breach": ["notify_group_manager", "reassign_escalation_group"]},
    )
    from communications.models import Notification

    with freeze_time("2026-06-01 08:00:00"):
        incident = open_p2(agent, service)
    with freeze_time("2026-06-01 09:05:00"):
        assert firing.fire_due(clock(incident, "resolution").pk)
    incident.refresh_from_db()
    assert incident.assignment_group == tier2  # escalated to the next tier
    assert incident.reassignment_count == 1
    breach_mail = Notification.objects.filter(event="sla.breached", recipient="boss@example.com")
    assert breach_mail.exists()
    assert incident.timeline.filter(type="notified", data__event="sla.breached").exists()


def test_sweep_lease_claims_a_due_clock_once_until_fired_or_expired(desk):
    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 60, always, warning_thresholds=[])
    with freeze_time("2026-06-01 08:00:00"):
        resolution = clock(open_p2(agent, service), "resolution")
    now = utc(2026, 6, 1, 9, 5)
    assert firing.claim_due_clocks(now) == [resolution.pk]
    assert firing.claim_due_clocks(now + timedelta(seconds=30)) == []  # published already: not again
    assert firing.claim_due_clocks(now + firing.SWEEP_LEASE + timedelta(seconds=1)) == [resolution.pk]  # lost: retried
    with freeze_time(now + firing.SWEEP_LEASE + timedelta(seconds=2)):
        assert firing.fire_due(resolution.pk) is True
    resolution.refresh_from_db()
    assert resolution.queued_at is None and resolution.breach_fired and resolution.next_check_at is None
    assert firing.claim_due_clocks(now + timedelta(hours=1)) == []


def test_sweep_publishes_chunks_that_fire_each_clock_once(desk, monkeypatch):
    from incidents import tasks

    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 60, always, warning_thresholds=[])
    with freeze_time("2026-06-01 08:00:00"):
        incidents = [open_p2(agent, service) for _ in range(5)]
    published: list[list[int]] = []
    monkeypatch.setattr(tasks, "send_now", lambda task, ids: published.append(list(ids)) or True)
    with freeze_time("2026-06-01 09:05:00"):
        assert tasks.sweep_sla_clocks(inline_below=2, chunk=2) == 5
        assert tasks.sweep_sla_clocks(inline_below=2, chunk=2) == 0  # leased: not published twice
        assert [len(part) for part in published] == [2, 2, 1]
        ids = [clock_id for part in published for clock_id in part]
        assert tasks.fire_sla_clocks(ids + ids[:2]) == 5  # a repeated id is a no-op
    for incident in incidents:
        assert incident.timeline.filter(type="sla", data__event="breached").count() == 1
    assert not SlaClock.objects.filter(queued_at__isnull=False).exists()


def test_failed_publication_releases_the_lease(desk, monkeypatch):
    from incidents import tasks

    agent, group, service = desk
    always = BusinessCalendar.objects.get(name="24x7")
    policy("resolution", [2], 60, always, warning_thresholds=[])
    with freeze_time("2026-06-01 08:00:00"):
        resolution = clock(open_p2(agent, service), "resolution")
    monkeypatch.setattr(tasks, "send_now", lambda task, ids: False)  # broker down
    with freeze_time("2026-06-01 09:05:00"):
        assert tasks.sweep_sla_clocks(inline_below=0) == 1
        resolution.refresh_from_db()
        assert resolution.queued_at is None and not resolution.breach_fired
        assert firing.claim_due_clocks() == [resolution.pk]  # the next sweep takes it again
