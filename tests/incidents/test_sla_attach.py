"""Attaching SLA clocks on create: one policy query, no timeline read, bulk inserts, same results as a reference.

`legacy_attach_clocks` below is the plain attach (policies and each policy's calendar read from the
database, the state history read from the timeline, each clock saved and announced in turn; as
every attach now, nothing fires inside the use case). The equivalence tests open the same
incidents both ways and compare every clock field, every timeline row, the ETA tasks queued and
the API's output.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from incidents import events, services, sla
from incidents.choices import IncidentState, TimelineType
from incidents.models import Incident, SlaClock
from incidents.sla import clocks as sla_clocks
from incidents.sla import replay as sla_replay
from itsm import roles
from itsm.choices import SlaKind
from itsm.models import BusinessCalendar, Holiday, SlaPolicy
from tests.factories import AssignmentGroupFactory, BusinessCalendarFactory, CategoryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


# --- the attach as it was before (the reference) ------------------------------------------------
def legacy_attach_clocks(
    incident: Incident, actor, *, kinds=(SlaKind.RESPONSE, SlaKind.RESOLUTION), retroactive=False, **_ignored
) -> list[SlaClock]:
    now = timezone.now()
    policies = list(SlaPolicy.objects.filter(active=True).order_by("id"))
    history = sla_clocks.state_history(incident)
    attached = []
    for kind in kinds:
        policy = sla.matching_policy(incident, kind, policies)
        if policy is None:
            continue
        policy = (
            SlaPolicy.objects.select_related("calendar")
            .prefetch_related("calendar__working_periods", "calendar__holidays")
            .get(pk=policy.pk)
        )
        clock = SlaClock(
            incident=incident,
            policy=policy,
            kind=kind,
            target_seconds=policy.target_minutes * 60,
            started_at=incident.opened_at,
        )
        sla_clocks.replay_into(clock, history, now)
        if retroactive:
            percent = sla_replay.percent(clock, now)
            clock.warnings_fired = [t for t in clock.policy.warning_thresholds or [] if t <= percent]
            clock.next_check_at = sla_replay.next_check(clock)
        clock.save()
        events.sla(incident, actor, policy=clock.policy_id, kind=clock.kind, event="started", at=clock.started_at)
        sla_clocks.schedule(clock, now)
        attached.append(clock)
    return attached


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def desk(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    payroll = ServiceFactory(slug="payroll", owner_group=group)
    mail = ServiceFactory(slug="mail", owner_group=group)
    return agent, payroll, mail


@pytest.fixture
def config(desk):
    """Policies on three calendars: general, per service, per (parent) category, an inactive and a tie."""
    _, payroll, _ = desk
    always = BusinessCalendar.objects.get(name="24x7")
    berlin = BusinessCalendarFactory(name="Berlin 9-18", timezone="Europe/Berlin")
    Holiday.objects.create(calendar=berlin, date="2026-11-30", name="Local holiday")
    new_york = BusinessCalendarFactory(
        name="New York 8-17", timezone="America/New_York", hours=[(d, 480, 1020) for d in range(5)]
    )
    hardware = CategoryFactory(name="Hardware")
    laptop = CategoryFactory(name="Laptop", parent=hardware)

    def policy(kind, priorities, minutes, calendar, **extra):
        return SlaPolicy.objects.create(
            name=f"{kind} {priorities} {minutes} {calendar.name} {sorted(extra)}",
            kind=kind,
            priorities=priorities,
            target_minutes=minutes,
            calendar=calendar,
            **extra,
        )

    policy("response", [1, 2, 3, 4, 5], 60, berlin)
    policy("resolution", [1, 2, 3, 4, 5], 960, berlin)
    policy("response", [1, 2], 30, new_york, service=payroll, warning_thresholds=[50, 80])
    policy("resolution", [2, 3], 240, new_york, service=payroll)
    policy("resolution", [2, 3], 480, always, category=hardware)
    policy("resolution", [2, 3], 120, always, category=hardware)  # a tie: the older one wins
    policy("response", [3], 15, always, category=laptop, active=False)  # inactive: never matches
    policy("resolution", [1], 90, always, service=payroll, category=hardware, actions={"breach": ["notify_group"]})
    return {"laptop": laptop, "hardware": hardware}


def _clock_rows(incident: Incident) -> list[dict]:
    skip = {"id", "incident"}
    return [
        {f.attname: getattr(c, f.attname) for f in SlaClock._meta.concrete_fields if f.name not in skip}
        for c in SlaClock.objects.filter(incident=incident).order_by("id")
    ]


def _timeline_rows(incident: Incident) -> list[tuple]:
    rows = []
    for e in incident.timeline.order_by("id"):
        data = dict(e.data)
        data.pop("number", None)
        rows.append((e.type, e.actor_id, e.at, data))
    return rows


def _open_both_ways(monkeypatch, when, **fields) -> tuple[tuple, tuple]:
    """Open the same incident with the new attach and with the legacy one; what each wrote."""
    scheduled: list[tuple] = []

    def record(task, clock_id, eta):
        scheduled.append((SlaClock.objects.get(pk=clock_id).kind, eta))

    monkeypatch.setattr(sla_clocks, "enqueue_on_commit", record)
    results = []
    for attach in (sla.attach_clocks, legacy_attach_clocks):
        scheduled.clear()
        with monkeypatch.context() as m, freeze_time(when):
            m.setattr(sla, "attach_clocks", attach)
            incident = services.open_incident(title="Payroll run fails", **fields)
            opened = [
                (c.kind, c.policy_id, c.due_at, c.next_check_at) for c in SlaClock.objects.filter(incident=incident)
            ]
        results.append((_clock_rows(incident), _timeline_rows(incident), list(scheduled), opened))
    return results[0], results[1]


SCENARIOS = [
    # (frozen now, impact, urgency, service, category, opened_at offset): priorities 1..5 of the ITIL matrix
    ("2026-11-27 16:30:00", 1, 2, "payroll", None, None),  # Friday 17:30 Berlin, Monday a holiday
    ("2026-11-27 16:30:00", 2, 2, "payroll", "laptop", None),  # service beats category
    ("2026-06-03 13:00:00", 2, 2, "mail", "laptop", None),  # parent category; the tie: older policy
    ("2026-06-03 13:00:00", 1, 1, "payroll", "hardware", None),  # service and category
    ("2026-06-06 10:00:00", 3, 3, "mail", None, None),  # Saturday: the general policy, nothing running yet
    ("2026-03-29 00:30:00", 2, 3, "payroll", None, None),  # the DST night in Berlin
    ("2026-06-03 13:00:00", 1, 2, "payroll", None, timedelta(minutes=-20)),  # a warning due at once
    ("2026-06-03 13:00:00", 1, 1, "payroll", "hardware", timedelta(hours=-3)),  # breached at once: marked
]


@pytest.mark.parametrize(("now", "impact", "urgency", "service", "category", "opened"), SCENARIOS)
def test_attach_matches_the_legacy_attach(desk, config, monkeypatch, now, impact, urgency, service, category, opened):
    agent, payroll, mail = desk
    fields = {
        "actor": agent,
        "impact": impact,
        "urgency": urgency,
        "service": {"payroll": payroll, "mail": mail}[service],
    }
    if category:
        fields["category"] = config[category]
    if opened is not None:
        fields["opened_at"] = datetime.fromisoformat(now).replace(tzinfo=UTC) + opened
    new, legacy = _open_both_ways(monkeypatch, now, **fields)
    assert new == legacy
    clocks, timeline, scheduled, _ = new
    assert clocks  # every scenario attaches something
    fired = [row[3]["event"] for row in timeline if row[0] == TimelineType.SLA and row[3]["event"] != "started"]
    assert fired == []  # nothing fires inside the use case
    with freeze_time(now):
        due_now = any(row["next_check_at"] <= timezone.now() for row in clocks if row["next_check_at"])
    assert due_now == (opened is not None)  # the last two are due at once: fired by the task after commit


def test_retroactive_attach_after_a_hold_matches_the_legacy_attach(desk, config, monkeypatch):
    """A priority change mid-life (history read from the timeline) re-attaches exactly as before."""
    agent, payroll, _ = desk
    results = []
    for attach in (sla.attach_clocks, legacy_attach_clocks):
        with monkeypatch.context() as m:
            m.setattr(sla, "attach_clocks", attach)
            with freeze_time("2026-06-01 07:00:00"):
                incident = services.open_incident(actor=agent, title="t", impact=2, urgency=2, service=payroll)
            with freeze_time("2026-06-01 07:10:00"):
                services.start(incident, actor=agent, assignee=agent)
            with freeze_time("2026-06-01 08:00:00"):
                services.hold(incident, actor=agent, hold_reason="awaiting_caller")
            with freeze_time("2026-06-01 13:00:00"):
                services.update_incident(incident, actor=agent, changes={"impact": 1, "urgency": 1})
        results.append((_clock_rows(incident), _timeline_rows(incident)))
    assert results[0] == results[1]
    assert any(row["stage"] == "cancelled" for row in results[0][0])


def test_api_create_output_matches_the_legacy_attach(api, desk, config, monkeypatch):
    agent, _, _ = desk
    client = api.as_user(agent)
    bodies = []
    for attach in (sla.attach_clocks, legacy_attach_clocks):
        with monkeypatch.context() as m, freeze_time("2026-11-27 16:30:00"):
            m.setattr(sla, "attach_clocks", attach)
            body = {"title": "api", "service": "payroll", "impact": 2, "urgency": 2, "category": config["laptop"].pk}
            response = client.post("/api/v1/incidents/", body, format="json")
            assert response.status_code == 201, response.content
            created = response.json()
            fetched = client.get(f"/api/v1/incidents/{created['id']}/").json()
        assert created["sla"] == fetched["sla"]
        bodies.append(created["sla"])
    assert bodies[0] == bodies[1] and len(bodies[0]) == 2


# --- cost -----------------------------------------------------------------------------------------
def test_attach_on_create_is_three_statements(desk, config, monkeypatch):
    """Active policies with their calendars in one query (calendar values cached), no timeline read, two INSERTs."""
    agent, payroll, _ = desk
    services.open_incident(actor=agent, title="warm", impact=1, urgency=2, service=payroll)  # calendar values read
    captured = {}
    attach = sla.attach_clocks

    def counting(*args, **kwargs):
        with CaptureQueriesContext(connection) as ctx:
            captured["clocks"] = attach(*args, **kwargs)
        captured["sql"] = [q["sql"] for q in ctx.captured_queries]
        return captured["clocks"]

    monkeypatch.setattr(sla, "attach_clocks", counting)
    services.open_incident(actor=agent, title="t", impact=1, urgency=2, service=payroll)
    assert len(captured["clocks"]) == 2
    assert [sql.split()[0] for sql in captured["sql"]] == ["SELECT", "INSERT", "INSERT"], captured["sql"]
    assert "itsm_slapolicy" in captured["sql"][0] and "incidents_timelineevent" not in captured["sql"][0]


def test_no_transition_returns_to_new():
    """attach_clocks replays an incident in `new` without reading its timeline: it cannot have transitions."""
    field = Incident._meta.get_field("state")
    targets = {t.target for t in field.get_all_transitions(Incident)}
    assert targets and IncidentState.NEW not in targets


# --- configuration changed in the same transaction or by another process ---------------------
def test_policy_created_in_the_same_transaction_is_found(desk, config):
    agent, payroll, _ = desk
    always = BusinessCalendar.objects.get(name="24x7")
    newest = SlaPolicy.objects.create(  # the most specific one for this incident
        name="payroll hardware P2 10 min",
        kind="response",
        priorities=[2],
        target_minutes=10,
        calendar=always,
        service=payroll,
        category=config["hardware"],
    )  # not committed yet: the attach reads the database of this transaction
    incident = services.open_incident(
        actor=agent, title="t", impact=1, urgency=2, service=payroll, category=config["laptop"]
    )
    response = SlaClock.objects.get(incident=incident, kind="response")
    assert response.policy_id == newest.pk and response.target_seconds == 600


def test_policy_deactivated_in_the_same_transaction_is_not_used(desk, config):
    agent, payroll, _ = desk
    specific = SlaPolicy.objects.get(kind="response", service=payroll)
    specific.active = False
    specific.save()
    incident = services.open_incident(actor=agent, title="t", impact=1, urgency=2, service=payroll)
    assert SlaClock.objects.get(incident=incident, kind="response").policy.service_id is None


def test_policy_changed_without_signals_applies_at_once(desk, config):
    """Policies are read per attach (nothing of them is cached): a bulk update applies to the next incident."""
    agent, payroll, _ = desk
    specific = SlaPolicy.objects.get(kind="response", service=payroll)
    SlaPolicy.objects.filter(pk=specific.pk).update(target_minutes=45)  # no signal
    incident = services.open_incident(actor=agent, title="t", impact=1, urgency=2, service=payroll)
    response = SlaClock.objects.get(incident=incident, kind="response")
    assert response.policy_id == specific.pk and response.target_seconds == 45 * 60
